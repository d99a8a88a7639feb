import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubConfigSchema } from '../../src/config/hub-config.js';
import { derToPem } from '../../src/core/cert.js';
import { silentLogger } from '../../src/core/log.js';
import { MosquittoBroker } from '../../src/demo/mosquitto.js';
import { Hub } from '../../src/hub/hub.js';
import { connectMqtt } from '../../src/mqtt/client.js';
import { commandAckSchema, gateCommandSchema } from '../../src/mqtt/commands.js';
import { passageEventSchema, PASSAGE_EVENT_TYPES } from '../../src/mqtt/events.js';
import { topics } from '../../src/mqtt/topics.js';
import { acceptingProfile } from './fake-profile.js';
import { makeGate } from './ingest-fixture.js';

// A plain MQTT client subscribing the way Home Assistant does: discovery documents, the state
// topics they name, the re-send on HA's birth message, and the commands they carry.
const SITE = 'S1';
const dir = mkdtempSync(join(tmpdir(), 'hub-ha-'));
const broker = new MosquittoBroker({
  dir: join(dir, 'broker'),
  siteId: SITE,
  hub: { user: 'hub', password: 'hub-pw' },
  gates: [{ gateId: 'G1', password: 'g1-pw' }],
  // Home Assistant's own account: status, events and discovery to read, commands to write
  operator: { user: 'home-assistant', password: 'ha-pw' },
});
const profile = acceptingProfile;

interface Msg {
  topic: string;
  payload: string;
}

/** Renders the only template forms the documents use: `{{ value_json.a.b }}` and `{{ value_json.a['k'].b }}`. */
function render(template: string, json: unknown): string | undefined {
  const m = /^\{\{ value_json((?:\.[A-Za-z_][A-Za-z0-9_]*|\['[^']+'\])+) \}\}$/.exec(template);
  if (!m) throw new Error(`template form not understood by this test: ${template}`);
  let v: unknown = json;
  for (const part of m[1].match(/\.[A-Za-z_][A-Za-z0-9_]*|\['[^']+'\]/g)!) {
    const key = part.startsWith('.') ? part.slice(1) : part.slice(2, -2);
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
  }
  if (typeof v === 'boolean') return v ? 'True' : 'False'; // as Jinja prints a Python bool
  return v === undefined || v === null ? undefined : String(v);
}

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('Home Assistant view of the hub (real broker)', () => {
  let hub: Hub;
  let ha: MqttClient;
  let gate: MqttClient;
  const haGot: Msg[] = [];
  const gateGot: Msg[] = [];
  const docs = () => new Map(haGot.filter((m) => m.topic.endsWith('/config')).map((m) => [m.topic, JSON.parse(m.payload) as Record<string, unknown>]));

  beforeAll(async () => {
    await broker.start();
    const g = await makeGate('G1');
    writeFileSync(join(dir, 'g1.pem'), derToPem(g.certDer));
    writeFileSync(join(dir, 'hub.pw'), 'hub-pw\n');
    writeFileSync(join(dir, 'secret'), '0123456789abcdef0123456789abcdef\n');
    writeFileSync(join(dir, 'registry.json'), JSON.stringify({ workers: [] }));
    const config = hubConfigSchema.parse({
      siteId: SITE,
      stateDir: join(dir, 'hub'),
      mqtt: { url: broker.url, passwordFile: join(dir, 'hub.pw') },
      gates: [{ gateId: 'G1', certFile: join(dir, 'g1.pem'), lanes: ['L1'] }],
      registry: { workersFile: join(dir, 'registry.json') },
      platform: { baseUrl: 'http://127.0.0.1:9/api', appId: 'a', appSecretFile: join(dir, 'secret'), mode: 'joint-test' },
    });
    hub = new Hub({ config, log: silentLogger(), profile, statusEveryMs: 200 });
    await hub.start();
    // Home Assistant connects after the hub: the first documents were sent before it listened
    ha = await connectMqtt({ url: broker.url, username: 'home-assistant', password: 'ha-pw', clientId: 'home-assistant', onMessage: (topic, p) => haGot.push({ topic, payload: p.toString() }) });
    gate = await connectMqtt({ url: broker.url, username: 'G1', password: 'g1-pw', clientId: 'gate-g1', onMessage: (topic, p) => gateGot.push({ topic, payload: p.toString() }) });
    await gate.subscribeAsync(topics.gateCmd(SITE, 'G1'), { qos: 1 });
    await ha.subscribeAsync('homeassistant/+/+/+/config', { qos: 1 });
  });

  afterAll(async () => {
    await ha?.endAsync();
    await gate?.endAsync();
    await hub?.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends the discovery documents when Home Assistant announces itself, and again at each birth', async () => {
    expect(docs().size).toBe(0);
    await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await until(() => docs().size >= 13, 'discovery documents');
    const byId = new Map([...docs().values()].map((d) => [d.unique_id as string, d]));
    expect([...byId.keys()].sort()).toEqual([
      'sitegate_S1_G1_fault', 'sitegate_S1_G1_fire_alarm', 'sitegate_S1_G1_lane_L1', 'sitegate_S1_G1_passage', 'sitegate_S1_G1_resync_roster',
      'sitegate_S1_G1_unacked', 'sitegate_S1_hub_last_command', 'sitegate_S1_hub_platform_fault', 'sitegate_S1_hub_queue_in_flight',
      'sitegate_S1_hub_queue_pending', 'sitegate_S1_hub_queue_rejected', 'sitegate_S1_hub_requests_today', 'sitegate_S1_hub_upload_now',
    ]);
    const lock = byId.get('sitegate_S1_G1_lane_L1')!;
    expect(lock).toMatchObject({ command_topic: topics.gateCmd(SITE, 'G1'), state_topic: topics.gateStatus(SITE, 'G1'), state_locked: 'lockdown', state_unlocked: 'normal', state_open: 'open' });
    expect(byId.get('sitegate_S1_G1_passage')).toMatchObject({ state_topic: topics.gateEvent(SITE, 'G1'), event_types: [...PASSAGE_EVENT_TYPES] });
    expect(byId.get('sitegate_S1_G1_fire_alarm')).toMatchObject({ device_class: 'safety', payload_on: 'True' });
    for (const d of byId.values()) {
      expect((d.availability as { value_template: string }[])[0].value_template).toContain('value_json.online');
      expect(d.device).toBeDefined();
    }

    // Home Assistant restarts: its birth message brings every document again
    const before = haGot.length;
    await ha.publishAsync('homeassistant/status', 'offline', { qos: 1 });
    await ha.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await until(() => haGot.length - before >= 13, 'documents re-sent after the birth message');
    expect(haGot.length - before).toBe(13);
  });

  it('points every hub entity at a retained status whose values the templates find', async () => {
    const hubDocs = [...docs().values()].filter((d) => d.state_topic === topics.hubStatus(SITE));
    expect(hubDocs.length).toBe(5);
    await ha.subscribeAsync(topics.hubStatus(SITE), { qos: 1 });
    await until(() => haGot.some((m) => m.topic === topics.hubStatus(SITE)), 'the retained hub status');
    const status = JSON.parse(haGot.filter((m) => m.topic === topics.hubStatus(SITE)).at(-1)!.payload);
    for (const d of hubDocs) expect(render(d.value_template as string, status), d.unique_id as string).toBeDefined();
    expect(render('{{ value_json.faulted }}', status)).toBe('False');
    expect(status).toMatchObject({
      online: true, mode: 'joint-test', queue: { pending: 0 }, oldestWaitingMs: null, lastUploadMs: null, lastPlatformError: null, faults: [],
      gates: [{ gateId: 'G1', certDaysLeft: expect.any(Number) }], certExpiryMs: expect.any(Number),
    });
  });

  it('reads a gate status and its events through the templates, and adds a lock for a lane the gate reports', async () => {
    await ha.subscribeAsync(topics.gateStatus(SITE, 'G1'), { qos: 1 });
    await ha.subscribeAsync(topics.gateEvent(SITE, 'G1'), { qos: 1 });
    const gateStatus = { online: true, lanes: { L1: { mode: 'normal' }, L2: { mode: 'lockdown' } }, fireAlarm: false, fault: true, faults: ['relay'], unacked: 3 };
    await gate.publishAsync(topics.gateStatus(SITE, 'G1'), JSON.stringify(gateStatus), { qos: 1, retain: true });
    await until(() => docs().has('homeassistant/lock/sitegate_S1_G1/lane_L2/config'), 'a lock for the reported lane L2');
    const expected: Record<string, string> = {
      sitegate_S1_G1_lane_L1: 'normal', sitegate_S1_G1_lane_L2: 'lockdown', sitegate_S1_G1_fault: 'True', sitegate_S1_G1_fire_alarm: 'False', sitegate_S1_G1_unacked: '3',
    };
    for (const d of docs().values()) {
      if (d.state_topic !== topics.gateStatus(SITE, 'G1')) continue;
      expect(render(d.value_template as string, gateStatus)).toBe(expected[d.unique_id as string]);
    }

    const event = passageEventSchema.parse({
      v: 1, event_type: 'spoof', gateId: 'G1', lane: 'L1', direction: 'in', atMs: Date.now(), clockSynced: true, method: 'face',
      score: 0.91, liveness: 0.12, reason: 'liveness_failed', workerId: 'W7', punchId: null, photoHash: null,
    });
    await gate.publishAsync(topics.gateEvent(SITE, 'G1'), JSON.stringify(event), { qos: 1 });
    await until(() => haGot.some((m) => m.topic === topics.gateEvent(SITE, 'G1')), 'the passage event');
    const got = JSON.parse(haGot.find((m) => m.topic === topics.gateEvent(SITE, 'G1'))!.payload);
    expect(PASSAGE_EVENT_TYPES).toContain(got.event_type);
    expect(passageEventSchema.safeParse({ ...event, workerId: '11010519491231002X' }).success).toBe(false);
  });

  it('carries commands the gate can parse, and the hub answers its own with an ack', async () => {
    const lock = docs().get('homeassistant/lock/sitegate_S1_G1/lane_L1/config')!;
    await ha.publishAsync(lock.command_topic as string, lock.payload_open as string, { qos: 1 });
    await until(() => gateGot.length > 0, 'the command at the gate');
    expect(gateCommandSchema.parse(JSON.parse(gateGot[0].payload))).toEqual({ cmd: 'open-once', lane: 'L1', direction: 'in' });

    await ha.subscribeAsync(topics.hubCmdAck(SITE), { qos: 1 });
    const button = docs().get('homeassistant/button/sitegate_S1_hub/upload_now/config')!;
    await ha.publishAsync(button.command_topic as string, button.payload_press as string, { qos: 1 });
    await ha.publishAsync(topics.hubCmd(SITE), JSON.stringify({ id: 'c2', cmd: 'launch-rocket' }), { qos: 1 });
    await until(() => haGot.filter((m) => m.topic === topics.hubCmdAck(SITE)).length >= 2, 'two acks');
    const acks = haGot.filter((m) => m.topic === topics.hubCmdAck(SITE)).map((m) => commandAckSchema.parse(JSON.parse(m.payload)));
    expect(acks[0]).toMatchObject({ id: null, cmd: 'upload-now', ok: true, code: 'ok', result: { rowsSent: 0 } });
    expect(acks[1]).toMatchObject({ id: 'c2', cmd: 'launch-rocket', ok: false, code: 'bad_command' });
  });

  it('keeps punches, photos and the roster from the dashboard account, and refuses its writes outside commands', async () => {
    const seen: Msg[] = [];
    const spy = await connectMqtt({ url: broker.url, username: 'home-assistant', password: 'ha-pw', clientId: 'ha-spy', onMessage: (topic, p) => seen.push({ topic, payload: p.toString() }) });
    try {
      await spy.subscribeAsync(`${topics.siteRoot(SITE)}/#`, { qos: 1 });
      await gate.publishAsync(topics.gatePunch(SITE, 'G1'), 'punch-bytes', { qos: 1 });
      await gate.publishAsync(topics.gatePhoto(SITE, 'G1'), 'photo-bytes', { qos: 1 });
      await gate.publishAsync(topics.gateStatus(SITE, 'G1'), JSON.stringify({ online: true }), { qos: 1, retain: true });
      await until(() => seen.some((m) => m.topic === topics.gateStatus(SITE, 'G1')), 'the gate status through the dashboard account');
      expect(seen.map((m) => m.topic).filter((t) => /\/(punch|photo|roster)/.test(t))).toEqual([]);
      await expect(spy.publishAsync(topics.gateStatus(SITE, 'G1'), '{"online":false}', { qos: 1 })).rejects.toMatchObject({ code: 135 });
      await expect(spy.publishAsync(topics.gateAck(SITE, 'G1'), '{}', { qos: 1 })).rejects.toMatchObject({ code: 135 });
    } finally {
      await spy.endAsync();
    }
  });
});
