import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { PunchEntry } from '../../src/core/entries.js';
import { cutSampleFaces, type DemoFace } from '../../src/demo/faces.js';
import { FacePool } from '../../src/gate/face/face-pool.js';
import { defaultManifestPath } from '../../src/gate/face/models.js';
import type { Gate } from '../../src/gate/gate.js';
import { WiegandSim } from '../../src/gate/hw/sim/wiegand-sim.js';
import { encodeWiegand26 } from '../../src/gate/hw/wiegand.js';
import type { PassageEvent } from '../../src/mqtt/events.js';
import { faceConfig } from './face-helpers.js';
import { PINS, gateConfig, newGate, rosterDoc, simWorld, startSite, waitFor, wiegandReader, type TestSite } from './harness.js';

// The real face workers (WASM models in threads) behind a real gate.
describe('a gate with the real face models', () => {
  let site: TestSite;
  let gate: Gate | null = null;

  beforeAll(async () => {
    site = await startSite('face-models');
  }, 60_000);
  afterAll(async () => {
    await gate?.stop();
    await site?.stop();
  });

  it('a model file that does not match the manifest: no face matching, the fault names the file, cards still pass', async () => {
    const manifest = JSON.parse(readFileSync(defaultManifestPath, 'utf8'));
    manifest.files[1].sha256 = '0'.repeat(64);
    const path = join(site.dir, 'manifest.json');
    writeFileSync(path, JSON.stringify(manifest));
    const world = simWorld(systemClock);
    gate = newGate(gateConfig(site, [wiegandReader], { stateDir: join(site.dir, 'gate-a'), face: faceConfig(join(site.dir, 'cam-a')) }), world, { facePool: { manifestPath: path } });
    const punches: PunchEntry[] = [];
    gate.on('punch', (p) => punches.push(p));
    await gate.start();
    await gate.faceReady;
    expect(gate.face.status()).toMatchObject({ state: 'fault' });
    const fault = gate.faults.list().find((f) => f.code === 'face_models')!;
    expect(fault.message).toContain(manifest.files[1].file);
    new WiegandSim(world.chip, systemClock, { d0: PINS.d0, d1: PINS.d1, gapUs: 500 }).send(encodeWiegand26(21, 1001));
    await waitFor(() => punches.length > 0, 5000, 'the punch');
    expect(punches[0].decision).toBe('granted');
    await gate.stop();
    gate = null;
  }, 30_000);

  it("faces cut from face-api's sample photos, enrolled, then replayed by the camera directory, are recognised", async () => {
    const camera = join(site.dir, 'cam-b');
    const pool = new FacePool({ workers: 1 });
    let faces: DemoFace[];
    try {
      await pool.start();
      faces = await cutSampleFaces(pool, camera, 3);
    } finally {
      await pool.stop();
    }
    expect(faces.length).toBe(3);
    const doc = rosterDoc(site.siteKey, 1);
    faces.forEach((f, i) => doc.workers.push({ workerId: `F${i + 1}`, name: `样本${i + 1}`, status: 'entered', idValidTo: null, credentials: [], faceTemplates: [f.template] } as never));
    const rosterFile = join(site.dir, 'roster-b.json');
    writeFileSync(rosterFile, JSON.stringify(doc));
    const world = simWorld(systemClock);
    gate = newGate(
      gateConfig(site, [wiegandReader], { stateDir: join(site.dir, 'gate-b'), roster: { file: rosterFile }, face: faceConfig(camera, {}, { intervalMs: 200 }) }),
      world,
    );
    const punches: PunchEntry[] = [];
    const attempts: PassageEvent[] = [];
    gate.on('punch', (p) => punches.push(p));
    gate.on('faceAttempt', (e) => attempts.push(e));
    await gate.start();
    await gate.faceReady;
    expect(gate.face.status()).toMatchObject({ state: 'running', indexWorkers: 3 });
    await gate.face.cameraEnded();
    const st = gate.face.status();
    expect(st.camera!.delivered + st.camera!.dropped).toBe(3);
    // every still is judged: recognised (a granted face punch of one of the three), refused as a
    // spoof by the model, or ignored because the lane was still busy with the previous passage
    const judged = () => punches.length + attempts.length + gate!.controller.counters.ignoredBusy;
    await waitFor(() => judged() >= st.camera!.delivered && !gate!.laneBusy('L1'), 30_000, 'every still judged');
    expect(judged()).toBe(st.camera!.delivered);
    expect(punches.length).toBeGreaterThanOrEqual(1);
    for (const p of punches) {
      expect(p).toMatchObject({ decision: 'granted', credential: { kind: 'face' } });
      expect(['F1', 'F2', 'F3']).toContain(p.workerId);
      expect(p.photoHash).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(attempts.filter((a) => a.event_type !== 'spoof')).toEqual([]);
  }, 120_000);
});
