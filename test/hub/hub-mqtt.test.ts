import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { derToPem } from '../../src/core/cert.js';
import { silentLogger } from '../../src/core/log.js';
import { hubConfigSchema } from '../../src/config/hub-config.js';
import { MosquittoBroker } from '../../src/demo/mosquitto.js';
import { Hub } from '../../src/hub/hub.js';
import { connectMqtt } from '../../src/mqtt/client.js';
import type { PlatformProfile } from '../../src/municipal/profile.js';
import { makeGate, signedBatch, type TestGate } from './ingest-fixture.js';

// The hub on a real broker: bad payloads are rejected and counted, the daemon keeps serving.
describe('hub on the broker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-mqtt-'));
  const broker = new MosquittoBroker({
    dir: join(dir, 'broker'),
    siteId: 'S1',
    hub: { user: 'hub', password: 'hub-pw' },
    gates: [{ gateId: 'G1', password: 'g1-pw' }],
  });
  const uploads: number[] = [];
  const profile: PlatformProfile = {
    name: 'fake',
    upload: async (b) => (uploads.push(b.rows.length), { ok: true, value: { requestSerialCode: 'r1' } }),
    query: async () => ({ ok: true, value: { state: 'done', rows: Array.from({ length: uploads.at(-1) ?? 0 }, (_, index) => ({ index, status: 'accepted' as const })) } }),
  };
  let hub: Hub;
  let gate: TestGate;
  let gateClient: MqttClient;
  const acks: unknown[] = [];

  beforeAll(async () => {
    await broker.start();
    gate = await makeGate('G1');
    writeFileSync(join(dir, 'g1.pem'), derToPem(gate.certDer));
    writeFileSync(join(dir, 'hub.pw'), 'hub-pw\n');
    writeFileSync(join(dir, 'secret'), '0123456789abcdef0123456789abcdef\n');
    writeFileSync(join(dir, 'registry.json'), JSON.stringify({ workers: [{ workerId: 'W1', name: '王伟', idNumber: '11010519491231002X', projectCode: 'P1', teamSysNo: 1 }] }));
    const config = hubConfigSchema.parse({
      siteId: 'S1',
      stateDir: join(dir, 'hub'),
      mqtt: { url: broker.url, passwordFile: join(dir, 'hub.pw') },
      gates: [{ gateId: 'G1', certFile: join(dir, 'g1.pem') }],
      registry: { workersFile: join(dir, 'registry.json') },
      platform: { baseUrl: 'http://127.0.0.1:9/api', appId: 'a', appSecretFile: join(dir, 'secret'), pacing: { minSpacingMs: 0, pollDelayMs: 0 } },
    });
    hub = new Hub({ config, log: silentLogger(), profile });
    await hub.start();
    gateClient = await connectMqtt({ url: broker.url, username: 'G1', password: 'g1-pw', clientId: 'test-g1', onMessage: (_t, p) => acks.push(JSON.parse(p.toString())) });
    await gateClient.subscribeAsync('sitegate/v1/S1/gate/G1/ack', { qos: 1 });
  });

  afterAll(async () => {
    await gateClient?.endAsync();
    await hub?.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function until(cond: () => boolean, ms = 5000) {
    const end = Date.now() + ms;
    while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return cond();
  }

  it('rejects and counts malformed payloads, then still stores, acknowledges and forwards a good batch', async () => {
    const topic = 'sitegate/v1/S1/gate/G1/punch';
    await gateClient.publishAsync(topic, 'not json at all', { qos: 1 });
    await gateClient.publishAsync(topic, JSON.stringify({ gateId: 'G1', entries: [] }), { qos: 1 });
    await gateClient.publishAsync(topic, Buffer.alloc(4096, 0xff), { qos: 1 });
    expect(await until(() => hub.ingest.counters.malformed === 3)).toBe(true);
    expect(acks).toEqual([]);

    const batch = signedBatch(gate, 2);
    await gateClient.publishAsync(topic, JSON.stringify(batch), { qos: 1 });
    expect(await until(() => acks.length === 1)).toBe(true);
    expect(acks[0]).toMatchObject({ gateId: 'G1', seq: 3 });
    expect(hub.ingest.counters.stored).toBe(4);
    expect(await until(() => uploads.length > 0)).toBe(true);
    expect(await until(() => hub.queue.counts().delivered === 2)).toBe(true);
    expect(uploads).toEqual([2]);
  });
});
