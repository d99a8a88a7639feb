import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { MosquittoBroker } from '../../src/demo/mosquitto.js';
import { topics } from '../../src/mqtt/topics.js';
import { endAll, GATE_A, gateAccount, HUB, recordingClient, SITE, tempDir, waitUntil } from './helpers.js';

// More than mosquitto's default max_queued_messages (1000), which would drop the rest.
const BACKLOG = 1500;
const MARKER = 'marker';

describe('broker persistence (real mosquitto)', () => {
  let broker: MosquittoBroker;
  let dataFile = '';
  let removeDir: () => Promise<void> = async () => {};
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    const dir = await tempDir();
    removeDir = dir.remove;
    const brokerDir = join(dir.path, 'broker');
    dataFile = join(brokerDir, 'data', 'mosquitto.db');
    broker = new MosquittoBroker({ dir: brokerDir, siteId: SITE, hub: HUB, gates: [GATE_A] });
    await broker.start();
  });

  afterAll(async () => {
    await endAll(clients);
    await broker?.kill('SIGKILL');
    await removeDir();
  });

  /** The hub's persistent session: subscribed to every gate's punches, then offline. */
  async function hubSession(clientId: string): Promise<{ client: MqttClient; received: { topic: string; payload: string }[] }> {
    const hub = await recordingClient(broker.url, HUB, { clientId, clean: false, sessionExpirySec: 3600 });
    clients.push(hub.client);
    return hub;
  }

  async function gatePublishes(first: number, count: number): Promise<void> {
    const gate = await recordingClient(broker.url, gateAccount(GATE_A));
    clients.push(gate.client);
    for (let i = first; i < first + count; i++) {
      await gate.client.publishAsync(topics.gatePunch(SITE, GATE_A.gateId), `punch-${i}`, { qos: 1 });
    }
    await gate.client.endAsync();
  }

  /** A punch sent after the hub is back arrives after everything queued for it before. */
  async function untilMarker(received: { payload: string }[]): Promise<void> {
    const gate = await recordingClient(broker.url, gateAccount(GATE_A));
    clients.push(gate.client);
    await gate.client.publishAsync(topics.gatePunch(SITE, GATE_A.gateId), MARKER, { qos: 1 });
    await waitUntil(() => received.some((m) => m.payload === MARKER), 'the marker punch at the hub', 10_000);
  }

  const expected = (first: number, count: number): string[] => Array.from({ length: count }, (_, i) => `punch-${first + i}`);

  it('keeps a gate\'s punches queued for the offline hub across a broker restart, in order', async () => {
    const first = await hubSession('hub-session-restart');
    await first.client.subscribeAsync(topics.allGatePunches(SITE), { qos: 1 });
    await first.client.endAsync();

    await gatePublishes(0, BACKLOG);
    const { port } = await broker.restart();
    expect(port).toBe(broker.port);

    const again = await hubSession('hub-session-restart');
    await untilMarker(again.received);
    expect(again.received.map((m) => m.payload)).toEqual([...expected(0, BACKLOG), MARKER]);
    await again.client.endAsync();
  });

  it('keeps them across a broker crash once the store has been autosaved', async () => {
    const first = await hubSession('hub-session-crash');
    await first.client.subscribeAsync(topics.allGatePunches(SITE), { qos: 1 });
    await first.client.endAsync();

    await gatePublishes(0, 200);
    // PUBACK is not durability: only a save after the last publish survives SIGKILL. mosquitto
    // saves in its only thread, so any save that finishes after this point holds every punch.
    const afterLastPuback = mtimeMs(dataFile);
    await waitUntil(() => mtimeMs(dataFile) !== afterLastPuback, 'an autosave of the broker store', 5000);
    await broker.kill('SIGKILL');
    await broker.start();

    const again = await hubSession('hub-session-crash');
    await untilMarker(again.received);
    expect(again.received.map((m) => m.payload)).toEqual([...expected(0, 200), MARKER]);
  });
});

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}
