import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { PunchEntry } from '../../src/core/entries.js';
import { siteRulesSchema } from '../../src/core/site-rules.js';
import type { Gate } from '../../src/gate/gate.js';
import { encodeTemplate } from '../../src/gate/face/face-templates.js';
import { WiegandSim } from '../../src/gate/hw/sim/wiegand-sim.js';
import { encodeWiegand26 } from '../../src/gate/hw/wiegand.js';
import { photoMessageSchema } from '../../src/mqtt/photos.js';
import { topics } from '../../src/mqtt/topics.js';
import { faceConfig, faceRoster, frame, scripted, unit } from './face-helpers.js';
import { GATE, PINS, SITE, gateConfig, newGate, simWorld, startSite, waitFor, watcher, wiegandReader, type SimWorld, type TestSite } from './harness.js';

describe('face matching wired into a real gate (scripted face workers)', () => {
  let site: TestSite;
  let world: SimWorld;
  let gate: Gate;
  let proc: ReturnType<typeof scripted>;
  let watch: Awaited<ReturnType<typeof watcher>>;
  const punches: PunchEntry[] = [];
  const acked: string[] = [];

  beforeAll(async () => {
    site = await startSite('face');
    world = simWorld(systemClock);
    proc = scripted();
    watch = await watcher(site, [topics.gateEvent(SITE, GATE), topics.gatePhoto(SITE, GATE)]);
    // the hub's part: store nothing, acknowledge every well-formed photo
    watch.client.on('message', (topic, payload) => {
      if (topic !== topics.gatePhoto(SITE, GATE)) return;
      const m = photoMessageSchema.parse(JSON.parse(payload.toString()));
      void watch.client.publishAsync(topics.gatePhotoAck(SITE, GATE), JSON.stringify({ photos: [m.hash] }), { qos: 1 });
    });
    const config = gateConfig(site, [wiegandReader], {
      roster: { file: faceRoster(site) },
      face: faceConfig(join(site.dir, 'camera-empty')),
    });
    gate = newGate(config, world, { faceProcessor: proc });
    gate.on('punch', (p) => punches.push(p));
    gate.on('photosAcked', (h) => acked.push(...h));
    await gate.start();
    await gate.faceReady;
    await waitFor(() => gate.snapshot().hub.connected, 10_000, 'the hub link');
  }, 60_000);

  afterAll(async () => {
    await gate?.stop();
    await watch?.client.endAsync();
    await site?.stop();
  });

  const events = (type?: string) => watch.messages.filter((m) => m.topic === topics.gateEvent(SITE, GATE) && (!type || m.json.event_type === type));

  async function face(d: Float32Array, antispoof = 0.9, liveness = 0.9): Promise<void> {
    proc.next = { d, antispoof, liveness };
    await gate.face.station!.offer(frame);
    await waitFor(() => !gate.laneBusy('L1'), 5000, 'the passage');
  }

  it('builds the 1:N index from the roster file\'s templates', () => {
    expect(gate.face.status()).toMatchObject({ state: 'running', policy: 'model-only', indexWorkers: 2, indexTemplates: 2, badTemplates: 0 });
  });

  it('a recognised live face is a granted face punch with score, liveness and its photo; the photo reaches the hub and is marked uploaded', async () => {
    const n = punches.length;
    await face(unit(1));
    expect(punches.length).toBe(n + 1);
    const p = punches.at(-1)!;
    expect(p).toMatchObject({ decision: 'granted', workerId: 'W1', credential: { kind: 'face' }, lane: 'L1', direction: 'in' });
    expect(p.face!.score).toBeGreaterThan(0.99);
    expect(p.face!.liveness).toBeCloseTo(0.9, 5);
    expect(p.photoHash).toMatch(/^[0-9a-f]{64}$/);
    const stored = gate.photos.get(p.photoHash!)!;
    expect(createHash('sha256').update(stored).digest('hex')).toBe(p.photoHash);
    await waitFor(() => acked.includes(p.photoHash!), 10_000, 'the photo ack');
    expect(gate.photos.pendingUpload(10)).toEqual([]);
    await waitFor(() => events('granted').some((e) => e.json.punchId === p.punchId), 5000, 'the event');
    expect(events('granted').find((e) => e.json.punchId === p.punchId)!.json).toMatchObject({ method: 'face', photoHash: p.photoHash, workerId: 'W1' });
  });

  it('a face failing liveness is a spoof: no punch, a spoof event, the spoof pattern on the lane', async () => {
    const n = punches.length;
    const before = events('spoof').length;
    await face(unit(1), 0.1);
    expect(punches.length).toBe(n);
    expect(gate.indicatorPlaying('L1')).toBe('spoof');
    await waitFor(() => events('spoof').length > before, 5000, 'the spoof event');
    expect(events('spoof').at(-1)!.json).toMatchObject({ method: 'face', reason: 'model_antispoof', punchId: null, workerId: null });
  });

  it('a live face nobody enrolled: no punch, an unknown event', async () => {
    const n = punches.length;
    const before = events('unknown').length;
    await face(unit(99));
    expect(punches.length).toBe(n);
    await waitFor(() => events('unknown').length > before, 5000, 'the unknown event');
    expect(events('unknown').at(-1)!.json).toMatchObject({ method: 'face', reason: 'below_threshold', punchId: null });
  });

  it('the index follows roster deltas: an added worker is recognised, a removed one no longer', async () => {
    const v = gate.roster.version()!;
    gate.roster.applyDelta({ siteId: SITE, fromVersion: v, version: v + 1, upserts: [{ workerId: 'W5', name: '赵六', status: 'entered', idValidTo: null, credentials: [], faceTemplates: [encodeTemplate(unit(5))] }], removes: [] });
    // what RosterSync reports after an apply
    gate.face.rosterApplied({ kind: 'delta', version: v + 1, upserts: ['W5'], removes: [], rulesChanged: false });
    await face(unit(5));
    expect(punches.at(-1)).toMatchObject({ decision: 'granted', workerId: 'W5' });
    gate.roster.applyDelta({ siteId: SITE, fromVersion: v + 1, version: v + 2, upserts: [], removes: ['W5'] });
    gate.face.rosterApplied({ kind: 'delta', version: v + 2, upserts: [], removes: ['W5'], rulesChanged: false });
    expect(gate.face.index!.has('W5')).toBe(false);
    const n = punches.length;
    await face(unit(5));
    expect(punches.length).toBe(n);
  });

  it('card+face: the card read asks for the live face just seen; the wrong face or none is refused', async () => {
    const v = gate.roster.version()!;
    gate.roster.applyDelta({ siteId: SITE, fromVersion: v, version: v + 1, upserts: [], removes: [], rules: siteRulesSchema.parse({ verification: 'card+face' }) });
    const swipe = async () => {
      const k = punches.length;
      new WiegandSim(world.chip, systemClock, { d0: PINS.d0, d1: PINS.d1, gapUs: 500 }).send(encodeWiegand26(21, 1001));
      await waitFor(() => punches.length > k, 5000, 'the punch');
      await waitFor(() => !gate.laneBusy('L1'), 5000, 'the passage');
      return punches.at(-1)!;
    };
    const n = punches.length;
    await face(unit(3)); // W3's face: in card+face mode a face alone journals nothing
    expect(punches.length).toBe(n);
    expect(await swipe()).toMatchObject({ workerId: 'W1', decision: 'denied', reason: 'card_face_mismatch' });
    await face(unit(1));
    expect(await swipe()).toMatchObject({ workerId: 'W1', decision: 'granted', reason: 'ok', credential: { kind: 'wiegand' } });
    gate.roster.applyDelta({ siteId: SITE, fromVersion: v + 1, version: v + 2, upserts: [], removes: [], rules: siteRulesSchema.parse({}) });
  });

  it('status shows face matching and the photo store', () => {
    const s = gate.status() as Record<string, any>;
    expect(s.face).toMatchObject({ state: 'running', station: { credentials: expect.any(Number), spoofs: 1 } });
    expect(s.photos.photos).toBeGreaterThanOrEqual(1);
  });
});
