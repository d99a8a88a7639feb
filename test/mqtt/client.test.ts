import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { freePort, MosquittoBroker } from '../../src/demo/mosquitto.js';
import { connectMqtt } from '../../src/mqtt/client.js';
import { topics } from '../../src/mqtt/topics.js';
import { endAll, GATE_A, HUB, recordingClient, SITE, tempDir, waitUntil } from './helpers.js';

describe('MQTT client helper (real mosquitto)', () => {
  let broker: MosquittoBroker;
  let certFile = '';
  let tlsPort = 0;
  let removeDir: () => Promise<void> = async () => {};
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    const dir = await tempDir();
    removeDir = dir.remove;
    certFile = join(dir.path, 'hub.crt');
    const keyFile = join(dir.path, 'hub.key');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile,
    ], { stdio: 'ignore' });
    tlsPort = await freePort();
    broker = new MosquittoBroker({
      dir: join(dir.path, 'broker'), siteId: SITE, hub: HUB, gates: [GATE_A],
      extra: { tls: { certFile, keyFile, caFile: certFile, port: tlsPort } },
    });
    await broker.start();
  });

  afterAll(async () => {
    await endAll(clients);
    await broker?.kill('SIGKILL');
    await removeDir();
  });

  it('rides out a broker crash: reports errors, keeps the client and reconnects by itself', async () => {
    const gate = await recordingClient(broker.url, { user: GATE_A.gateId, password: GATE_A.password }, { reconnectPeriodMs: 100 });
    clients.push(gate.client);
    let errors = 0;
    let connects = 0;
    gate.client.on('error', () => errors++);
    gate.client.on('connect', () => connects++);

    await broker.kill('SIGKILL');
    await waitUntil(() => errors > 0, 'a failed reconnect reported as an error');
    await broker.start();
    await waitUntil(() => connects > 0, 'the reconnect');

    expect(gate.client.connected).toBe(true);
    await gate.client.publishAsync(topics.gateStatus(SITE, GATE_A.gateId), 'online', { qos: 1 });
  });

  it('connects over TLS with the hub\'s certificate as trust anchor', async () => {
    const client = await connectMqtt({
      url: `mqtts://127.0.0.1:${tlsPort}`, username: HUB.user, password: HUB.password, clientId: 'hub-tls',
      connectTimeoutMs: 5000, tls: { ca: readFileSync(certFile) },
    });
    clients.push(client);
    await client.publishAsync(topics.hubStatus(SITE), 'online', { qos: 1 });
  });

  it('refuses a TLS broker it cannot verify, with the reason', async () => {
    const attempt = connectMqtt({
      url: `mqtts://127.0.0.1:${tlsPort}`, username: HUB.user, password: HUB.password, clientId: 'hub-tls-2', connectTimeoutMs: 5000,
    });
    await expect(attempt).rejects.toMatchObject({ code: 'MQTT_CONNECT', message: expect.stringMatching(/self[- ]signed/i) });
  });
});
