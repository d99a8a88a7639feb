import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { PunchEntry } from '../../src/core/entries.js';
import { rosterPublicKeyText } from '../../src/core/roster-message.js';
import { hubConfigSchema, type HubConfig } from '../../src/config/hub-config.js';
import { enrolFromGate } from '../../src/cli/hub-enrol-client.js';
import type { Gate } from '../../src/gate/gate.js';
import { decodeTemplate, encodeTemplate } from '../../src/gate/face/face-templates.js';
import { RegistryStore, registryPath } from '../../src/hub/registry/registry-store.js';
import { readOrCreateRosterKey } from '../../src/hub/roster-key.js';
import { faceEnrolResultSchema } from '../../src/mqtt/enrol.js';
import { topics } from '../../src/mqtt/topics.js';
import { faceConfig, frame, scripted, unit } from '../gate-integration/face-helpers.js';
import { GATE, SITE, gateConfig, newGate, simWorld, startSite, waitFor, watcher, wiegandReader, type TestSite } from '../gate-integration/harness.js';

// Enrolment from the next capture at a gate, end to end on the real broker: the operator's CLI
// function, an in-process hub storing into its registry, a real gate with scripted face workers,
// and the roster delta that brings the new template back to the gate.
describe('enrol-face --from-gate', () => {
  let site: TestSite;
  let gate: Gate | null = null;
  let registry: RegistryStore;
  let config: HubConfig;
  let watch: Awaited<ReturnType<typeof watcher>>;
  const proc = scripted();
  const punches: PunchEntry[] = [];

  beforeAll(async () => {
    site = await startSite('enrol', { hub: true });
    const hubDir = join(site.dir, 'hub');
    config = hubConfigSchema.parse({
      siteId: SITE,
      stateDir: hubDir,
      mqtt: { url: site.broker.url, username: 'hub', passwordFile: join(site.dir, 'secrets', 'hub.mqtt') },
      gates: [{ gateId: GATE, certFile: join(site.dir, 'gate.crt.pem') }],
      platform: { baseUrl: 'http://127.0.0.1:9/unused', appId: 'test', appSecretFile: join(site.dir, 'secrets', 'platform.secret') },
    });
    // the CLI's own connection to the registry the running hub holds open
    registry = new RegistryStore(registryPath(hubDir), systemClock);
    watch = await watcher(site, [topics.hubEnrol(SITE), topics.gateEvent(SITE, GATE)]);
  }, 60_000);

  afterAll(async () => {
    await gate?.stop();
    registry?.close();
    await watch?.client.endAsync();
    await site?.stop();
  });

  async function startGate(face: boolean): Promise<Gate> {
    await gate?.stop();
    const hubPublicKey = rosterPublicKeyText(readOrCreateRosterKey(join(site.dir, 'hub', 'roster-key.pem')).key);
    const cfg = gateConfig(site, [wiegandReader], {
      stateDir: join(site.dir, face ? 'gate-face' : 'gate-plain'),
      roster: { hubPublicKey, retryMinMs: 500, headGraceMs: 200 },
      ...(face ? { face: faceConfig(join(site.dir, 'camera-empty')) } : {}),
    });
    const g = newGate(cfg, simWorld(systemClock), face ? { faceProcessor: proc } : {});
    g.on('punch', (p) => punches.push(p));
    await g.start();
    await g.faceReady;
    await waitFor(() => g.snapshot().hub.connected && g.roster.version() !== null, 10_000, 'the hub link and the roster');
    gate = g;
    return g;
  }

  /** Offers frames to the station until the enrolment ends (the gate takes the first good one). */
  async function offerUntil(done: () => boolean): Promise<void> {
    const end = Date.now() + 10_000;
    while (!done() && Date.now() < end) {
      if (gate!.snapshot().enrol && (gate!.snapshot().enrol as { waiting: unknown }).waiting) await gate!.face.station!.offer(frame);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('a gate without face matching refuses the capture with a clear reason; nothing is stored', async () => {
    await startGate(false);
    const version = registry.version();
    const r = await enrolFromGate(config, registry, { worker: 'W1', gateId: GATE, timeoutMs: 5000 });
    expect(r).toMatchObject({ ok: false, code: 'unavailable', workerId: 'W1', gateId: GATE });
    expect(r.message).toContain('face matching is not enabled');
    expect(registry.version()).toBe(version);
    expect(registry.faceCaptureRequest(r.requestId)).toMatchObject({ state: 'done', code: 'unavailable' });
  }, 30_000);

  it('refuses a gate the hub does not know, before sending anything', async () => {
    await expect(enrolFromGate(config, registry, { worker: 'W1', gateId: 'NOPE', timeoutMs: 5000 })).rejects.toMatchObject({ code: 'usage' });
  });

  it('stores the first good face: bad frames are skipped unseen by the station, the hub stores template and photo, the roster delta brings it back to the gate', async () => {
    const g = await startGate(true);
    expect(g.face.index!.has('W1')).toBe(false);
    const framesBefore = g.face.station!.counters.noFace;
    const eventsBefore = watch.messages.filter((m) => m.topic === topics.gateEvent(SITE, GATE)).length;
    const d = unit(42);
    const running = enrolFromGate(config, registry, { worker: 'W1', gateId: GATE, timeoutMs: 20_000 });
    let outcome: Awaited<typeof running> | null = null;
    void running.then((r) => (outcome = r));
    await waitFor(() => (g.snapshot().enrol as { waiting: unknown } | undefined)?.waiting != null, 10_000, 'the capture to start');

    // a blurred face first: refused by the enrolment checks, and the station sees no face
    proc.next = { d: unit(1), antispoof: 0.9, liveness: 0.9 };
    const blurred = proc.process;
    proc.process = async () => ({ ...(await blurred()), chosen: { ...(await blurred()).chosen!, sharpness: 2 } });
    await g.face.station!.offer(frame);
    expect((g.snapshot().enrol as { waiting: { frames: number } }).waiting.frames).toBe(1);
    expect(g.face.station!.counters.noFace).toBe(framesBefore + 1);
    proc.process = blurred;

    proc.next = { d, antispoof: 0.9, liveness: 0.9 };
    await offerUntil(() => outcome !== null);
    const r = outcome!;
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, code: 'stored', workerId: 'W1', gateId: GATE, faceId: 'W1-F1' });
    const face = registry.get('W1')!.credentials.faces[0];
    expect(face).toMatchObject({ faceId: 'W1-F1', state: 'ready', template: encodeTemplate(d) });
    expect(face.modelId).toMatch(/face_recognition_model\.bin#[0-9a-f]{12}$/);
    expect(decodeTemplate(face.template!)).toHaveLength(128);
    // no passage attempt was published for the enrolment frames
    expect(watch.messages.filter((m) => m.topic === topics.gateEvent(SITE, GATE)).length).toBe(eventsBefore);
    expect(faceEnrolResultSchema.parse(watch.messages.find((m) => m.topic === topics.hubEnrol(SITE) && m.json.requestId === r.requestId)!.json)).toMatchObject({ ok: true });

    // the hub's roster poll sends it as a delta; the gate's index learns W1's new face
    await waitFor(() => g.face.index!.has('W1'), 15_000, 'the roster delta with the template');
    const n = punches.length;
    await g.face.station!.offer(frame);
    await waitFor(() => punches.length > n, 5000, 'the face punch');
    expect(punches.at(-1)).toMatchObject({ workerId: 'W1', credential: { kind: 'face' }, decision: expect.any(String) });
  }, 60_000);

  it('no good face in time: the gate answers timeout, the hub reports it, nothing is stored', async () => {
    const version = registry.version();
    const r = await enrolFromGate(config, registry, { worker: 'W2', gateId: GATE, timeoutMs: 1000 });
    expect(r).toMatchObject({ ok: false, code: 'timeout', workerId: 'W2' });
    expect(r.message).toContain('no good face within 1 s');
    expect(registry.version()).toBe(version);
    expect(gate!.snapshot().enrol).toMatchObject({ waiting: null, timeouts: 1 });
  }, 30_000);

  it('an answer nobody asked for (a forged or replayed one) is not stored', async () => {
    const version = registry.version();
    const forged = {
      v: 1, requestId: 'enrol-forged', workerId: 'W2', gateId: GATE, atMs: Date.now(), ok: true, template: encodeTemplate(unit(7)), modelId: 'x',
      photo: { sha256: '0'.repeat(64), jpegBase64: 'AAAA' }, quality: { eyeDistancePx: 60, sharpness: 100, yaw: 0, pitch: 0, roll: 0, antispoof: 0.9, liveness: 0.9 },
    };
    const hub = site.hub!;
    const before = hub.enrol.counters.unrequested;
    await watch.client.publishAsync(topics.gateEnrol(SITE, GATE), JSON.stringify(forged), { qos: 1 });
    await waitFor(() => hub.enrol.counters.unrequested > before, 5000, 'the hub to see it');
    expect(registry.version()).toBe(version);
    expect(registry.get('W2')!.credentials.faces).toEqual([]);
    const malformed = hub.enrol.counters.malformed;
    await watch.client.publishAsync(topics.gateEnrol(SITE, GATE), '{"v":1,"ok":true}', { qos: 1 });
    await waitFor(() => hub.enrol.counters.malformed > malformed, 5000, 'the malformed count');
  });
});
