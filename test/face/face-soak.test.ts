// Issue 5's memory soak: frames go through what the gate runs — an MJPEG byte stream split into
// images (MjpegSplitter), each decoded to 640×480 (decodeFrame), the face pipeline in the gate's
// worker threads (FacePool, face.workers 'auto'), a 1:N search of every chosen face in an index of 10,000 templates, the
// motion-liveness check over the last 8 faces and the punch photo once per 8 faces — and the
// process's RSS must stay flat after the first 1,000 frames: at most 1 MB per 1,000 frames.
// 10,000 frames under SITEGATE_SOAK (make soak). The short run in make test (1,500 frames) cannot
// resolve RSS that finely (MAX_GROWTH_MB_PER_1000), so it also holds the leak detectors that are
// exact at any length: the main thread's live JS heap after a full GC, and each worker's tensors.
// The Makefile runs both with the gate unit's memory settings (systemd/sitegate-gate.service: glibc
// malloc, and V8's young generation capped at 2 MB semi-spaces; without the cap it doubles for hours
// and the RSS creeps up 15–20 MB after frame 1,000). The full soak refuses to run without them.
//
// Noise: the worker frees its copy of a frame's pixels when it answers, but the main thread's
// decoded frames (~1 MB each) wait for V8's next collection, so a single RSS sample sits anywhere
// up to tens of MB above what is really kept.
// RSS is sampled every 50 frames and the growth measured on its floor (rssFloorGrowthMbPer1000).
import { existsSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SitegateError } from '../../src/core/errors.js';
import { syntheticDistractors, syntheticIds } from '../../src/gate/face/distractors.js';
import { createFaceIndex, type FaceIndex } from '../../src/gate/face/face-index.js';
import { FacePool } from '../../src/gate/face/face-pool.js';
import { faceWorkerCount } from '../../src/gate/face/face-worker-count.js';
import { facePhoto } from '../../src/gate/face/face-station.js';
import { decodeFrame } from '../../src/gate/face/frame-decode.js';
import { defaultMatchMargin, defaultMatchThreshold } from '../../src/gate/face/match-threshold.js';
import { MjpegSplitter } from '../../src/gate/face/mjpeg-splitter.js';
import { residentBreakdown } from '../../src/gate/face/process-memory.js';
import { motionLiveness, type LivenessFrame } from '../../src/gate/face/motion-liveness.js';
import { gateUnitMemoryEnv } from '../gate-unit-env.js';
import { facesDir, haveFaces } from './faces-dir.js';
import { corruptFrames, emptyFrames, facePhotoFrames, interleave, mjpegChunks, type SoakFrame, type SoakFrameKind } from './soak-frames.js';
import { mainThreadGc, rssFloorGrowthMbPer1000, rssGrowthMbPer1000, sampleTable, slope, type MemorySample } from './soak-memory.js';

const FULL = Boolean(process.env.SITEGATE_SOAK);
/** SITEGATE_SOAK_FRAMES overrides the length, for looking into memory (the limits stay those of the mode). */
const TOTAL_FRAMES = Number(process.env.SITEGATE_SOAK_FRAMES) || (FULL ? 10_000 : 1_500);
const WARMUP_FRAMES = 1_000;
const SAMPLE_EVERY = 50;
/** Samples per floor window: 250 frames. */
const FLOOR_WINDOW = 5;
const TABLE_EVERY = 500;
/**
 * Issue 5's limit, for the full soak. A short run cannot resolve 1 MB per 1,000 frames: its slope
 * runs through two floors 250 frames apart, each a few MB off, so its RSS limit only catches a
 * gross leak (100 KB kept per frame is 100 MB per 1,000); the exact detectors below cover the rest.
 */
const MAX_GROWTH_MB_PER_1000 = FULL ? 1 : 20;
/** The gate unit's memory settings, as the Makefile passes them (GATE_MEMORY_ENV). */
const missingSettings = Object.entries(gateUnitMemoryEnv()).filter(([k, v]) => !(process.env[k] ?? '').split(' ').includes(v)).map(([k, v]) => `${k}=${v}`);
const WORKERS = faceWorkerCount('auto');
/** Frames being decoded or matched at once: enough to keep every worker busy. */
const IN_FLIGHT = 2 * WORKERS;
/** The main thread's live JS heap after a full GC: what the gate's own code keeps, MB per 1,000 frames. */
const MAX_HEAP_GROWTH_MB_PER_1000 = 1;
const BURST = 8;
const DISTRACTORS = 10_000;

describe('the soak arithmetic', () => {
  it('fits the least-squares slope of noisy points', () => {
    const pts = [0, 1, 2, 3, 4].map((x) => ({ x, y: 3 + 2 * x + (x % 2 ? 0.1 : -0.1) }));
    expect(slope(pts)).toBeCloseTo(2, 1);
    expect(slope([{ x: 1, y: 5 }])).toBeNaN();
  });

  it('reports growth per 1,000 frames from the samples after the warm-up only', () => {
    const at = (frames: number, mb: number): MemorySample => ({ frames, rss: mb * 2 ** 20, heapUsed: 0, tensors: [], wasmHeap: 0, workerHeap: 0 });
    // 300 MB of warm-up growth, then 0.5 MB per 1,000 frames.
    const samples = [at(0, 100), at(500, 350), at(1000, 400), at(2000, 400.5), at(3000, 401)];
    expect(rssGrowthMbPer1000(samples, 1000)).toBeCloseTo(0.5, 6);
  });

  it('measures growth on the floor of each window, so uncollected garbage does not count and kept memory does', () => {
    const at = (frames: number, mb: number): MemorySample => ({ frames, rss: mb * 2 ** 20, heapUsed: 0, tensors: [], wasmHeap: 0, workerHeap: 0 });
    // A flat floor of 500 MB with GC sawtooth spikes of up to 30 MB.
    const flat = Array.from({ length: 40 }, (_, i) => at(1000 + 50 * i, 500 + ((i * 7) % 5 === 0 ? 0 : ((i * 13) % 30))));
    expect(Math.abs(rssFloorGrowthMbPer1000(flat, 1000, 5))).toBeLessThan(0.5);
    // The same spikes over a 100 KB-per-frame leak: 100 MB per 1,000 frames.
    const leaking = flat.map((s) => ({ ...s, rss: s.rss + (s.frames - 1000) * 100 * 1024 }));
    expect(rssFloorGrowthMbPer1000(leaking, 1000, 5)).toBeGreaterThan(90);
  });
});

interface Tally {
  sent: number;
  chosen: number;
  refused: number;
  corrupt: number;
  errors: string[];
  /** Frames answered, by what was sent. */
  byKind: Record<SoakFrameKind, { chosen: number; refused: number; corrupt: number }>;
  searches: number;
  matched: number;
  motion: Record<string, number>;
  photos: number;
}

describe.skipIf(!haveFaces)(`face workers' memory over ${TOTAL_FRAMES.toLocaleString('en')} frames (issue 5)`, () => {
  const pool = new FacePool({ workers: WORKERS });
  let pass: SoakFrame[] = [];
  let chunks: Buffer[] = [];
  let index: FaceIndex;

  beforeAll(async () => {
    const faces = await facePhotoFrames(facesDir);
    pass = interleave(faces, await emptyFrames(), corruptFrames(faces[0].jpeg));
    chunks = mjpegChunks(pass);
    await pool.start();
    // The roster: every photo's face as its own template (people by name), plus synthetic
    // distractors up to the size Shanghai's rules ask a gate to hold.
    index = await createFaceIndex({ threshold: defaultMatchThreshold, margin: defaultMatchMargin });
    const real: Float32Array[] = [];
    for (const f of faces) {
      const r = await pool.process(await decodeFrame(f.jpeg));
      if (!r.chosen) continue;
      real.push(r.chosen.descriptor);
      index.add(f.name.startsWith('people/') ? f.name.split('/')[1] : f.name, [r.chosen.descriptor]);
    }
    index.addFlat(syntheticIds(DISTRACTORS), syntheticDistractors(real, DISTRACTORS, 1));
  }, 180_000);

  afterAll(() => pool.stop());

  it(
    'RSS grows at most 1 MB per 1,000 frames after the warm-up, tfjs tensors stay flat and every frame is answered',
    async () => {
      if (missingSettings.length) {
        const msg = `face soak: not run with the gate unit's memory settings (${missingSettings.join(' ')}): run it through make`;
        if (FULL) throw new Error(msg);
        console.log(msg);
      }
      const gc = mainThreadGc();
      const splitter = new MjpegSplitter();
      const waiting: Buffer[] = [];
      let nextChunk = 0;
      const nextImage = (): Buffer => {
        while (!waiting.length) waiting.push(...splitter.push(chunks[nextChunk++ % chunks.length]));
        return waiting.shift()!;
      };
      const t: Tally = {
        sent: 0, chosen: 0, refused: 0, corrupt: 0, errors: [], searches: 0, matched: 0, motion: {}, photos: 0,
        byKind: { face: { chosen: 0, refused: 0, corrupt: 0 }, empty: { chosen: 0, refused: 0, corrupt: 0 }, corrupt: { chosen: 0, refused: 0, corrupt: 0 } },
      };
      const recent: LivenessFrame[] = [];

      const answer = async (seq: number, bytes: Buffer): Promise<void> => {
        const kind = pass[seq % pass.length].kind;
        let frame;
        try {
          frame = await decodeFrame(bytes);
        } catch (err) {
          if (err instanceof SitegateError && err.code === 'frame_corrupt') {
            t.corrupt++;
            t.byKind[kind].corrupt++;
          } else t.errors.push(`frame ${seq}: ${(err as Error).message}`);
          return;
        }
        try {
          const r = await pool.process(frame);
          if (!r.chosen) {
            t.refused++;
            t.byKind[kind].refused++;
            return;
          }
          t.chosen++;
          t.byKind[kind].chosen++;
          const found = index.search(r.chosen.descriptor);
          t.searches++;
          if (!('rejected' in found)) t.matched++;
          recent.push({ landmarks: r.chosen.landmarks, box: r.chosen.box, descriptor: r.chosen.descriptor });
          if (recent.length > BURST) recent.shift();
          if (recent.length === BURST) {
            const verdict = motionLiveness(recent).reason;
            t.motion[verdict] = (t.motion[verdict] ?? 0) + 1;
          }
          if (t.chosen % BURST === 0) {
            await facePhoto(frame, r.chosen.box, 240);
            t.photos++;
          }
        } catch (err) {
          t.errors.push(`frame ${seq}: ${(err as Error).message}`);
        }
      };

      const runUntil = (end: number) =>
        Promise.all(
          Array.from({ length: IN_FLIGHT }, async () => {
            while (t.sent < end) {
              const seq = t.sent++;
              await answer(seq, nextImage());
            }
          }),
        );

      const samples: MemorySample[] = [];
      const sample = async (): Promise<void> => {
        gc();
        const stats = await pool.stats();
        const m = process.memoryUsage();
        samples.push({
          frames: t.sent,
          rss: m.rss,
          heapUsed: m.heapUsed + m.arrayBuffers,
          tensors: stats.map((s) => s.tensors),
          wasmHeap: stats.reduce((s, w) => s + w.wasmHeapBytes, 0),
          workerHeap: stats.reduce((s, w) => s + w.v8HeapBytes, 0),
          mainHeap: getHeapStatistics().total_physical_size,
          parts: existsSync('/proc/self/smaps') ? residentBreakdown() : undefined,
        });
      };

      await sample();
      while (t.sent < TOTAL_FRAMES) {
        await runUntil(Math.min(TOTAL_FRAMES, t.sent + SAMPLE_EVERY));
        await sample();
        const s = samples[samples.length - 1];
        if (FULL && s.frames % TABLE_EVERY === 0) console.log(`face soak: ${s.frames} frames, RSS ${(s.rss / 2 ** 20).toFixed(1)} MB`);
      }

      const growth = rssFloorGrowthMbPer1000(samples, WARMUP_FRAMES, FLOOR_WINDOW);
      const first = samples[0];
      const afterWarmup = samples.find((s) => s.frames >= WARMUP_FRAMES)!;
      const last = samples[samples.length - 1];
      console.log(
        [
          `face soak: ${t.sent} frames (${t.chosen} faces chosen, ${t.refused} refused, ${t.corrupt} undecodable), ` +
            `${t.searches} searches in ${index.size} templates (${t.matched} matched), ${t.photos} photos, motion ${JSON.stringify(t.motion)}`,
          sampleTable(samples, TABLE_EVERY),
          `RSS ${(first.rss / 2 ** 20).toFixed(1)} MB at start, ${(afterWarmup.rss / 2 ** 20).toFixed(1)} MB after the ${WARMUP_FRAMES}-frame warm-up, ` +
            `${(last.rss / 2 ** 20).toFixed(1)} MB at the end`,
          `growth after the warm-up: ${growth.toFixed(2)} MB per 1,000 frames on the floor (lowest RSS of each ${FLOOR_WINDOW * SAMPLE_EVERY} frames; limit ` +
            `${MAX_GROWTH_MB_PER_1000}), ${rssGrowthMbPer1000(samples, WARMUP_FRAMES).toFixed(2)} through all ${samples.filter((s) => s.frames >= WARMUP_FRAMES).length} samples`,
        ].join('\n'),
      );

      // Every frame got an answer, each the one its kind calls for.
      expect(t.errors).toEqual([]);
      expect(t.chosen + t.refused + t.corrupt).toBe(TOTAL_FRAMES);
      const sentOfKind = (k: SoakFrameKind) => Array.from({ length: TOTAL_FRAMES }, (_, i) => pass[i % pass.length].kind).filter((x) => x === k).length;
      expect(t.byKind.corrupt).toEqual({ chosen: 0, refused: 0, corrupt: sentOfKind('corrupt') });
      expect(t.byKind.empty).toEqual({ chosen: 0, refused: sentOfKind('empty'), corrupt: 0 });
      expect(t.byKind.face.corrupt).toBe(0);
      expect(t.byKind.face.chosen).toBeGreaterThan(sentOfKind('face') / 2);
      expect(splitter.oversize).toBe(0);
      expect(t.searches).toBe(t.chosen);

      // tfjs tensors: each worker holds exactly what it held before the first soak frame.
      expect(first.tensors.length).toBe(WORKERS);
      // The workers' WASM heaps only ever grow: after the warm-up they must not.
      expect(last.wasmHeap).toBe(afterWarmup.wasmHeap);
      for (const s of samples) expect(s.tensors, `tensors at frame ${s.frames}`).toEqual(first.tensors);

      // The main thread's live heap after a full GC: exact, so a kept object per frame shows at any length.
      const heap = slope(samples.filter((s) => s.frames >= WARMUP_FRAMES).map((s) => ({ x: s.frames / 1000, y: s.heapUsed / 2 ** 20 })));
      console.log(`main thread live heap and array buffers after GC: ${heap.toFixed(3)} MB per 1,000 frames after the warm-up (limit ${MAX_HEAP_GROWTH_MB_PER_1000})`);
      expect(heap).toBeLessThanOrEqual(MAX_HEAP_GROWTH_MB_PER_1000);
      expect(growth).toBeLessThanOrEqual(MAX_GROWTH_MB_PER_1000);
    },
    FULL ? 3_600_000 : 300_000 + TOTAL_FRAMES * 250,
  );
});
