import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { MosquittoBroker } from '../../src/demo/mosquitto.js';
import { connectMqtt } from '../../src/mqtt/client.js';
import { topics } from '../../src/mqtt/topics.js';
import { SitegateError } from '../../src/core/errors.js';
import { endAll, GATE_A, GATE_B, gateAccount, HUB, OTHER_SITE, recordingClient, SITE, tempDir, waitUntil, type Received } from './helpers.js';

describe('broker accounts and ACL (real mosquitto)', () => {
  let broker: MosquittoBroker;
  let url = '';
  let removeDir: () => Promise<void> = async () => {};
  const clients: MqttClient[] = [];

  async function client(account: { user: string; password: string }): Promise<{ client: MqttClient; received: Received[] }> {
    const c = await recordingClient(url, account);
    clients.push(c.client);
    return c;
  }

  beforeAll(async () => {
    const dir = await tempDir();
    removeDir = dir.remove;
    broker = new MosquittoBroker({ dir: join(dir.path, 'broker'), siteId: SITE, hub: HUB, gates: [GATE_A, GATE_B], otherSites: [OTHER_SITE] });
    ({ url } = await broker.start());
  });

  afterAll(async () => {
    await endAll(clients);
    await broker?.kill('SIGKILL');
    await removeDir();
  });

  it('lets the hub and a gate connect with their passwords', async () => {
    const hub = await client(HUB);
    const gate = await client(gateAccount(GATE_A));
    expect(hub.client.connected).toBe(true);
    expect(gate.client.connected).toBe(true);
  });

  it('refuses a wrong password with a not-authorised error', async () => {
    const attempt = connectMqtt({ url, username: GATE_A.gateId, password: 'wrong', clientId: 'intruder', connectTimeoutMs: 5000 });
    await expect(attempt).rejects.toBeInstanceOf(SitegateError);
    await expect(attempt).rejects.toMatchObject({ code: 'MQTT_NOT_AUTHORISED', message: expect.stringContaining('not authorised') });
  });

  it('refuses an unknown user and says so', async () => {
    const attempt = connectMqtt({ url, username: 'nobody', password: 'x', clientId: 'nobody', connectTimeoutMs: 5000 });
    await expect(attempt).rejects.toMatchObject({ code: 'MQTT_NOT_AUTHORISED' });
  });

  it('answers 135 to a gate publishing under another gate, and delivers its own punches', async () => {
    const hub = await client(HUB);
    await hub.client.subscribeAsync(topics.allGatePunches(SITE), { qos: 1 });
    const gateA = await client(gateAccount(GATE_A));

    const forged = gateA.client.publishAsync(topics.gatePunch(SITE, GATE_B.gateId), 'forged', { qos: 1 });
    await expect(forged).rejects.toMatchObject({ code: 135 });
    await gateA.client.publishAsync(topics.gatePunch(SITE, GATE_A.gateId), 'own', { qos: 1 });

    // Same publisher, same subscriber: the forged message would have arrived before this one.
    await waitUntil(() => hub.received.some((m) => m.payload === 'own'), 'the gate\'s own punch at the hub');
    expect(hub.received).toEqual([{ topic: topics.gatePunch(SITE, GATE_A.gateId), payload: 'own' }]);
  });

  it('does not let a gate read another gate\'s ack, not even through a wildcard', async () => {
    const gateA = await client(gateAccount(GATE_A));
    const direct = await gateA.client.subscribeAsync(topics.gateAck(SITE, GATE_B.gateId), { qos: 1 });
    await gateA.client.subscribeAsync(`${topics.siteRoot(SITE)}/gate/+/ack`, { qos: 1 });
    // mosquitto 2.0 either refuses the subscription (0x87) or grants it and filters each message.
    expect([0x87, 1]).toContain(direct[0].qos);

    const hub = await client(HUB);
    await hub.client.publishAsync(topics.gateAck(SITE, GATE_B.gateId), 'for-b', { qos: 1 });
    await hub.client.publishAsync(topics.gateAck(SITE, GATE_A.gateId), 'for-a', { qos: 1 });

    await waitUntil(() => gateA.received.some((m) => m.payload === 'for-a'), 'gate A\'s own ack');
    expect(gateA.received.map((m) => m.payload)).toEqual(['for-a']);
  });

  it('delivers the roster to the site\'s gates and not to a gate of another site', async () => {
    const ownGate = await client(gateAccount(GATE_B));
    const foreignGate = await client(gateAccount(OTHER_SITE.gates[0]));
    await ownGate.client.subscribeAsync(`${topics.roster(SITE)}/#`, { qos: 1 });
    await foreignGate.client.subscribeAsync(`${topics.roster(SITE)}/#`, { qos: 1 });
    await foreignGate.client.subscribeAsync(`${topics.roster(OTHER_SITE.siteId)}/#`, { qos: 1 });

    const hubA = await client(HUB);
    const hubB = await client(OTHER_SITE.hub);
    // The PUBACK comes after mosquitto has queued the message for every subscriber, so siteB's
    // roster published afterwards reaches the foreign gate after siteA's would have.
    await hubA.client.publishAsync(`${topics.roster(SITE)}/delta`, 'roster-a', { qos: 1 });
    await hubB.client.publishAsync(`${topics.roster(OTHER_SITE.siteId)}/delta`, 'roster-b', { qos: 1 });

    await waitUntil(() => ownGate.received.length > 0, 'the roster at the site\'s own gate');
    expect(ownGate.received.map((m) => m.payload)).toEqual(['roster-a']);
    await waitUntil(() => foreignGate.received.length > 0, 'its own site\'s roster at the foreign gate');
    expect(foreignGate.received.map((m) => m.payload)).toEqual(['roster-b']);
  });

  it('does not hand a retained roster to a gate of another site when it subscribes', async () => {
    const hubA = await client(HUB);
    const hubB = await client(OTHER_SITE.hub);
    await hubA.client.publishAsync(`${topics.roster(SITE)}/snapshot`, 'snapshot-a', { qos: 1, retain: true });
    await hubB.client.publishAsync(`${topics.roster(OTHER_SITE.siteId)}/snapshot`, 'snapshot-b', { qos: 1, retain: true });

    const ownGate = await client(gateAccount(GATE_A));
    await ownGate.client.subscribeAsync(`${topics.roster(SITE)}/#`, { qos: 1 });
    const foreignGate = await client(gateAccount(OTHER_SITE.gates[0]));
    // Retained messages follow each SUBACK in subscription order: siteA's would come first.
    await foreignGate.client.subscribeAsync(`${topics.roster(SITE)}/#`, { qos: 1 });
    await foreignGate.client.subscribeAsync(`${topics.roster(OTHER_SITE.siteId)}/#`, { qos: 1 });

    await waitUntil(() => ownGate.received.length > 0, 'the retained roster at the site\'s own gate');
    expect(ownGate.received.map((m) => m.payload)).toEqual(['snapshot-a']);
    await waitUntil(() => foreignGate.received.length > 0, 'its own site\'s retained roster at the foreign gate');
    expect(foreignGate.received.map((m) => m.payload)).toEqual(['snapshot-b']);
  });

  it('does not let another site\'s hub read or write this site', async () => {
    const hubB = await client(OTHER_SITE.hub);
    await hubB.client.subscribeAsync(`${topics.siteRoot(SITE)}/#`, { qos: 1 });
    await hubB.client.subscribeAsync(topics.allGateStatus(OTHER_SITE.siteId), { qos: 1 });
    await expect(hubB.client.publishAsync(topics.gateCmd(SITE, GATE_A.gateId), 'open', { qos: 1 })).rejects.toMatchObject({ code: 135 });

    const gateA = await client(gateAccount(GATE_A));
    const gateX = await client(gateAccount(OTHER_SITE.gates[0]));
    await gateA.client.publishAsync(topics.gateStatus(SITE, GATE_A.gateId), 'site-a-status', { qos: 1 });
    await gateX.client.publishAsync(topics.gateStatus(OTHER_SITE.siteId, 'gate-x'), 'site-b-status', { qos: 1 });
    await waitUntil(() => hubB.received.length > 0, 'its own gate\'s status at the other hub');
    expect(hubB.received.map((m) => m.payload)).toEqual(['site-b-status']);
  });
});
