import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubConfigSchema } from '../../src/config/hub-config.js';
import { loadConfigFile } from '../../src/config/load.js';
import { controlRequest } from '../../src/control/client.js';
import { ControlServer } from '../../src/control/server.js';
import { hubStatusViewSchema } from '../../src/control/views.js';
import { certSha256, derToPem } from '../../src/core/cert.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/log.js';
import { MosquittoBroker } from '../../src/demo/mosquitto.js';
import { Journal } from '../../src/gate/punch/journal.js';
import { Hub } from '../../src/hub/hub.js';
import { connectMqtt } from '../../src/mqtt/client.js';
import { photoAckSchema } from '../../src/mqtt/photos.js';
import { topics } from '../../src/mqtt/topics.js';
import { acceptingProfile } from '../hub/fake-profile.js';
import { batchOf, makeGate, signedBatch, type TestGate } from '../hub/ingest-fixture.js';
import { jpeg, photoPayload, sha256 } from './rows-helpers.js';

// The hub daemon on the real broker: photos and their acks, a gate's new chain epoch accepted only
// after re-commissioning through a reload, the control socket's status, and reload's limits.
const SITE = 'S1';
const dir = mkdtempSync(join(tmpdir(), 'hub-daemon-'));
const broker = new MosquittoBroker({
  dir: join(dir, 'broker'),
  siteId: SITE,
  hub: { user: 'hub', password: 'hub-pw' },
  gates: [{ gateId: 'G1', password: 'g1-pw' }],
});
const profile = acceptingProfile;
const configPath = join(dir, 'hub.yaml');

function writeConfig(patch: { epoch?: number; url?: string; mode?: 'auto' | 'joint-test' } = {}): void {
  const config = {
    siteId: SITE,
    stateDir: join(dir, 'hub'),
    mqtt: { url: patch.url ?? broker.url, passwordFile: join(dir, 'hub.pw') },
    gates: [{ gateId: 'G1', certFile: join(dir, 'g1.pem'), epoch: patch.epoch ?? 1 }],
    registry: { workersFile: join(dir, 'workers.json'), pollMs: 100 },
    platform: { baseUrl: 'http://127.0.0.1:9/api', appId: 'a', appSecretFile: join(dir, 'secret'), mode: patch.mode ?? 'joint-test' },
    homeAssistant: { enabled: false },
  };
  writeFileSync(configPath, JSON.stringify(config, null, 2)); // JSON is YAML
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('hub daemon (real broker)', () => {
  let hub: Hub;
  let gate: TestGate;
  let client: MqttClient;
  const got: { topic: string; payload: string }[] = [];
  const acksOf = (t: string) => got.filter((m) => m.topic === t).map((m) => JSON.parse(m.payload));

  beforeAll(async () => {
    await broker.start();
    gate = await makeGate('G1');
    writeFileSync(join(dir, 'g1.pem'), derToPem(gate.certDer));
    writeFileSync(join(dir, 'hub.pw'), 'hub-pw\n');
    writeFileSync(join(dir, 'secret'), '0123456789abcdef0123456789abcdef\n');
    writeFileSync(join(dir, 'workers.json'), JSON.stringify({ workers: [{ workerId: 'W1', name: '王伟', idNumber: '11010519491231002X', projectCode: 'P1', teamSysNo: 1 }] }));
    writeConfig();
    hub = new Hub({ config: loadConfigFile(hubConfigSchema, configPath), loadConfig: () => loadConfigFile(hubConfigSchema, configPath), log: silentLogger(), profile, statusEveryMs: 200 });
    await hub.start();
    client = await connectMqtt({ url: broker.url, username: 'G1', password: 'g1-pw', clientId: 'gate-g1', onMessage: (topic, p) => got.push({ topic, payload: p.toString() }) });
    await client.subscribeAsync([topics.gateAck(SITE, 'G1'), topics.gatePhotoAck(SITE, 'G1')], { qos: 1 });
  });

  afterAll(async () => {
    await client?.endAsync();
    await hub?.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores a photo the gate publishes and acknowledges it on the gate\'s photo ack topic; a photo whose bytes are not its hash gets no ack', async () => {
    const photo = await jpeg(160, 120, 70);
    const forged = await jpeg(160, 120, 40);
    await client.publishAsync(topics.gatePhoto(SITE, 'G1'), photoPayload(forged, sha256(photo)), { qos: 1 });
    await client.publishAsync(topics.gatePhoto(SITE, 'G1'), photoPayload(photo), { qos: 1 });
    await until(() => acksOf(topics.gatePhotoAck(SITE, 'G1')).length > 0, 'the photo ack');
    expect(acksOf(topics.gatePhotoAck(SITE, 'G1')).map((a) => photoAckSchema.parse(a))).toEqual([{ photos: [sha256(photo)] }]);
    expect(existsSync(join(dir, 'hub', 'photos', sha256(photo).slice(0, 2), `${sha256(photo)}.jpg`))).toBe(true);
    expect(hub.photos.counters).toMatchObject({ stored: 1, hash_mismatch: 1 });
  });

  it('refuses and counts a batch of a chain epoch the gate is not commissioned for, shows it, and accepts it once the gate is re-commissioned by a reload', async () => {
    const punchTopic = topics.gatePunch(SITE, 'G1');
    await client.publishAsync(punchTopic, JSON.stringify(signedBatch(gate, 2)), { qos: 1 });
    await until(() => acksOf(topics.gateAck(SITE, 'G1')).length === 1, 'the ack of epoch 1');

    // the controller was replaced: a new journal starts a new chain, epoch 2, at seq 0
    const fresh: TestGate = { ...gate, journal: new Journal(join(dir, 'journal-epoch2.db'), { gateId: 'G1', certSha256: certSha256(gate.certDer), epoch: 2 }) };
    const epoch2 = { ...signedBatch(fresh, 1, -1), epoch: 2 };
    expect(epoch2.entries[0].seq).toBe(0);
    await client.publishAsync(punchTopic, JSON.stringify(epoch2), { qos: 1 });
    await until(() => hub.ingest.counters.unexpected_epoch === 1, 'the refusal');
    expect(acksOf(topics.gateAck(SITE, 'G1'))).toHaveLength(1);
    expect(hub.status().faults).toEqual([expect.objectContaining({ kind: 'unexpected_epoch', message: expect.stringContaining('epoch 2') })]);
    expect(hub.controlStatus()).toMatchObject({ health: 'degraded', faults: [expect.objectContaining({ code: 'unexpected_epoch' })] });
    expect(hub.statusLine()).toContain('unexpected epoch');

    writeConfig({ epoch: 2 });
    await hub.reload();
    expect(hub.status().faults).toEqual([]);
    await client.publishAsync(punchTopic, JSON.stringify(epoch2), { qos: 1 });
    await until(() => acksOf(topics.gateAck(SITE, 'G1')).length === 2, 'the ack of epoch 2');
    expect(acksOf(topics.gateAck(SITE, 'G1'))[1]).toMatchObject({ gateId: 'G1', seq: 1 });
    // the old chain stays as it was; the new one is kept beside it
    const db = new Database(join(dir, 'hub', 'hub.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT epoch, COUNT(*) AS n, MIN(seq) AS first FROM entries GROUP BY epoch ORDER BY epoch').all()).toEqual([
        { epoch: 1, n: 4, first: 0 },
        { epoch: 2, n: 2, first: 0 },
      ]);
    } finally {
      db.close();
    }
    // and now the old epoch is the unexpected one
    const old = batchOf(gate, 1, gate.journal.head.seq, gate.key);
    await client.publishAsync(punchTopic, JSON.stringify(old), { qos: 1 });
    await until(() => hub.ingest.counters.unexpected_epoch === 2, 'the refusal of epoch 1');
  });

  it('answers `sitegate status` on its control socket with a view the CLI accepts, and stays healthy', async () => {
    const path = join(dir, 'hub.sock');
    const server = new ControlServer({ path, handlers: hub.control(), clock: systemClock, log: silentLogger(), group: null });
    await server.start();
    try {
      const reply = await controlRequest(path, { id: 1, cmd: 'status' });
      expect(reply.ok).toBe(true);
      const view = hubStatusViewSchema.parse((reply as { result: unknown }).result);
      expect(view).toMatchObject({ kind: 'hub', siteId: SITE, broker: { connected: true }, platform: { mode: 'joint-test' } });
      expect(view.gates).toEqual([expect.objectContaining({ gateId: 'G1', lastSeenMs: expect.any(Number), certExpiresInDays: expect.any(Number) })]);
      expect(view.queue).toMatchObject({ pending: 3, waiting_for_clock: 0, waiting_for_photo: 0 });
      expect(await controlRequest(path, { cmd: 'ping' })).toMatchObject({ ok: true, result: { daemon: 'hub' } });
    } finally {
      await server.stop();
    }
    expect(hub.healthy()).toEqual({ ok: true });
    expect(hub.statusLine()).toMatch(/^hub S1, \d\/1 gates online, 3 rows waiting, roster v\d+, joint-test/);
  });

  it('refuses a reload that changes a key only a restart applies, keeps the old config, and applies a new mode without losing a row', async () => {
    writeConfig({ epoch: 2, url: 'mqtt://127.0.0.1:1' });
    await expect(hub.reload()).rejects.toMatchObject({ code: 'reload_needs_restart', message: expect.stringContaining('mqtt') });
    expect(hub.counters.reloadsRefused).toBe(1);

    const before = hub.queue.counts();
    writeConfig({ epoch: 2, mode: 'auto' });
    await hub.reload();
    expect(hub.status().mode).toBe('auto');
    // the fake platform accepts nothing it is not told about (no rows in its answer), so rows stay accounted for
    await until(() => hub.forwarder.counters.requests > 0, 'the auto-mode forwarder sending');
    const after = hub.queue.counts();
    expect(after.pending + after.inFlight + after.delivered + after.rejected).toBe(before.pending + before.inFlight + before.delivered + before.rejected);
  });
});
