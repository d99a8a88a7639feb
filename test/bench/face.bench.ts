// Face pipeline figures (per frame, through the worker pool as the gate runs it): 640×480 JPEG
// frames decoded with sharp, then detection, landmarks, alignment, descriptor and model liveness.
// The 1:N search is not included in the frame figures (its own figure comes from the index bench).
//
// Card to relay with and without face load, in this one process: cards go through an
// AccessController + Journal (SQLite, full sync) + TurnstileLane on a SimGpioChip, first with no
// face worker running, then while the face workers match frames continuously. A swipe is timed from
// the moment its read event was due (a timer), so time the event loop spends queued behind the face
// traffic (frame decode, copies to the workers, results) counts, as it would for a real reader.
//
// The face workers are as many as the gate runs on this machine by default (face.workers 'auto':
// one fewer than the cores, at most 2; `face_workers`).
//
// gate_rss_mb_face comes from a fresh child process (the gate's shape: its face workers, 100,000
// templates in a FaceIndex, 2,000 frames decoded, matched and searched, the glibc malloc settings
// of the gate's unit), not from this bench process, which holds the other sections' leftovers.
// Where the default is not 2 workers, it runs again with 2 (`gate_rss_mb_face_2_workers`).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { systemClock, sleep } from '../../dist/core/clock.js';
import { percentile } from '../../dist/core/stats.js';
import { FacePool } from '../../dist/gate/face/face-pool.js';
import { decodeFrame } from '../../dist/gate/face/frame-decode.js';
import { faceWorkerCount } from '../../dist/gate/face/face-worker-count.js';
import { gateUnitMemoryEnv } from '../gate-unit-env.ts';
import { openCardRig, PASSAGE_SENSOR_LINE, RIG_WORKERS, rigCardNumber, type CardRig } from './card-rig.ts';

const r2 = (v: number) => Math.round(v * 100) / 100;
const CARDS = 400;
const WORKERS = faceWorkerCount('auto');
/** The gate unit's memory settings (systemd/sitegate-gate.service): glibc malloc and V8's young generation. */
const UNIT_ENV = gateUnitMemoryEnv();

function framePaths(): string[] {
  const shared = '/work/shared/faces/people';
  return existsSync(shared)
    ? readdirSync(shared).flatMap((p) => readdirSync(join(shared, p)).filter((f) => /\.jpe?g$/i.test(f)).map((f) => join(shared, p, f)))
    : [1, 2, 3, 4, 5, 6].map((i) => `node_modules/@vladmandic/face-api/demo/sample${i}.jpg`);
}

async function cameraFrames(): Promise<Buffer[]> {
  // As a camera would send them: 640×480 JPEGs.
  return Promise.all(framePaths().map((f) => sharp(readFileSync(f)).rotate().resize(640, 480, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer()));
}

export default async function face(): Promise<Record<string, number>> {
  const frames = await cameraFrames();
  const dir = mkdtempSync(join(tmpdir(), 'bench-face-'));
  const card = openCardRig(dir);
  const figures: Record<string, number> = {};
  try {
    const noFace = await swipeCards(card, CARDS);
    figures.card_to_relay_p50_ms_no_face = r2(percentile(noFace, 50));
    figures.card_to_relay_p99_ms_no_face = r2(percentile(noFace, 99));

    figures.face_workers = WORKERS;
    const pool = new FacePool({ workers: WORKERS });
    await pool.start();
    const inFlight = Array.from({ length: 2 * WORKERS }, (_, i) => i);
    try {
      const one = async (i: number) => pool.process(await decodeFrame(frames[i % frames.length]));
      for (let i = 0; i < 20; i++) await one(i); // warm-up: both workers' WASM heaps at frame size

      const lat: number[] = [];
      for (let i = 0; i < 200; i++) {
        const t0 = performance.now();
        await one(i);
        lat.push(performance.now() - t0);
      }
      figures.face_frame_to_decision_p50_ms = r2(percentile(lat, 50));
      figures.face_frame_to_decision_p99_ms = r2(percentile(lat, 99));

      const n = 300;
      let next = 0;
      const t0 = performance.now();
      await Promise.all(inFlight.map(async () => {
        while (next < n) await one(next++);
      }));
      figures.face_frames_per_s = r2(n / ((performance.now() - t0) / 1000));

      // Cards under face load: 2 frames in flight per worker (every worker always busy) until the swipes end.
      let loading = true;
      let loadFrames = 0;
      const load = Promise.all(inFlight.map(async () => {
        while (loading) await one(loadFrames++);
      }));
      await sleep(systemClock, 500);
      const withFace = await swipeCards(card, CARDS);
      loading = false;
      await load;
      figures.card_to_relay_p50_ms_face_load = r2(percentile(withFace, 50));
      figures.card_to_relay_p99_ms_face_load = r2(percentile(withFace, 99));
      figures.card_to_relay_face_load_frames = loadFrames;
    } finally {
      await pool.stop();
    }
  } finally {
    card.close();
    rmSync(dir, { recursive: true, force: true });
  }

  const gate = await gateRssChild(UNIT_ENV, WORKERS);
  figures.gate_rss_mb_face = gate.rss_mb;
  figures.gate_rss_mb_face_wasm_mb = gate.wasm_mb;
  figures.gate_rss_mb_face_index_mb = gate.index_mb;
  // Where it lies (resident MB): WASM memories (the workers' tfjs heaps and the index's kernel),
  // V8 heaps, glibc arenas, mapped files (node, libvips), other anonymous.
  for (const [k, v] of Object.entries(gate.parts)) figures[`gate_rss_part_${k}`] = v;
  if (WORKERS !== 2) figures.gate_rss_mb_face_2_workers = (await gateRssChild(UNIT_ENV, 2)).rss_mb;
  return figures;
}

let cardSeq = 0;

/** `count` swipes, each due 5 ms after the last one's passage; latency from when it was due to the relay. */
async function swipeCards(card: CardRig, count: number): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; i < count; i++) {
    const worker = cardSeq++ % RIG_WORKERS;
    const due = performance.now() + 5;
    const before = card.openedAt();
    await new Promise<void>((resolve) => setTimeout(() => {
      card.controller.handle({ kind: 'wiegand', number: rigCardNumber(worker), lane: 'L1', direction: 'in', readAtMono: systemClock.monotonic() });
      resolve();
    }, 5));
    while (card.openedAt() === before) await sleep(systemClock, 1); // not expected: handle() opens synchronously
    lat.push(card.openedAt() - due);
    card.chip.inject(PASSAGE_SENSOR_LINE, 1);
    card.chip.inject(PASSAGE_SENSOR_LINE, 0);
    await sleep(systemClock, 1);
  }
  return lat;
}

const execFileP = promisify(execFile);

/** The gate's face memory in a fresh process: its RSS after 2,000 frames with 100,000 templates indexed. */
async function gateRssChild(env: Record<string, string>, workers: number): Promise<{ rss_mb: number; wasm_mb: number; index_mb: number; parts: Record<string, number> }> {
  const dist = new URL('../../dist/', import.meta.url).href;
  const paths = framePaths().map((p) => (p.startsWith('/') ? p : join(process.cwd(), p)));
  const code = `
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const sharp = createRequire(${JSON.stringify(new URL('../../package.json', import.meta.url).pathname)})('sharp');
const { FacePool } = await import('${dist}gate/face/face-pool.js');
const { decodeFrame } = await import('${dist}gate/face/frame-decode.js');
const { createFaceIndex } = await import('${dist}gate/face/face-index.js');
const { seededRandom } = await import('${dist}gate/face/distractors.js');
// The templates are built in a function: only the index's own copy stays alive, as in the gate.
async function buildIndex() {
  const N = 100000;
  const rnd = seededRandom(1);
  const flat = new Float32Array(N * 128);
  for (let i = 0; i < N; i++) {
    let n = 0;
    for (let d = 0; d < 128; d++) { const v = rnd() - 0.5; flat[i * 128 + d] = v; n += v * v; }
    n = Math.sqrt(n);
    for (let d = 0; d < 128; d++) flat[i * 128 + d] /= n;
  }
  const index = await createFaceIndex({ threshold: 0.6, margin: 0.05 });
  index.addFlat(Array.from({ length: N }, (_, i) => 'W' + i), flat);
  return index;
}
const index = await buildIndex();
const frames = await Promise.all(${JSON.stringify(paths)}.map((f) => sharp(readFileSync(f)).rotate().resize(640, 480, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer()));
const pool = new FacePool({ workers: ${workers} });
await pool.start();
let next = 0;
await Promise.all(Array.from({ length: ${2 * workers} }, async () => {
  while (next < 2000) {
    const r = await pool.process(await decodeFrame(frames[next++ % frames.length]));
    if (r.chosen) index.search(r.chosen.descriptor);
  }
}));
const stats = await pool.stats();
const wasm = stats.reduce((s, w) => s + (w.wasmHeapBytes ?? 0), 0);
const rss = process.memoryUsage().rss;
const { residentBreakdown } = await import('${dist}gate/face/process-memory.js');
const { getHeapStatistics } = await import('node:v8');
const r = residentBreakdown();
const mb = (b) => Math.round(b / 2 ** 20 * 100) / 100;
const parts = {
  wasm_rss_mb: mb(r.wasm),
  wasm_largest_rss_mb: mb(r.wasmMemories[0] ?? 0),
  workers_v8_mb: mb(stats.reduce((s, w) => s + w.v8HeapBytes, 0)),
  main_v8_mb: mb(getHeapStatistics().total_physical_size),
  main_array_buffers_mb: mb(process.memoryUsage().arrayBuffers),
  malloc_arenas_mb: mb(r.mallocMainArena + r.mallocThreadArenas),
  files_mb: mb(r.files),
  other_anon_mb: mb(r.otherAnonymous),
  filters_freed_mb: mb(stats.reduce((s, w) => s + (w.releasedFilterBytes ?? 0), 0)),
};
const out = { rss_mb: rss / 2 ** 20, wasm_mb: wasm / 2 ** 20, index_mb: index.memoryBytes().total / 2 ** 20, parts };
await pool.stop();
process.stdout.write(JSON.stringify(out));
process.exit(0);
`;
  // A script file, not --eval: worker threads inherit the parent's execArgv.
  const dir = mkdtempSync(join(tmpdir(), 'bench-face-rss-'));
  const script = join(dir, 'gate-rss.mjs');
  writeFileSync(script, code);
  let stdout: string;
  try {
    ({ stdout } = await execFileP(process.execPath, [script], {
      env: { ...process.env, ...env },
      maxBuffer: 1 << 20,
      timeout: 600_000,
    }));
  } catch (err) {
    throw new Error(`the gate RSS child process failed: ${String((err as { stderr?: string }).stderr ?? err).slice(-1500)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const o = JSON.parse(stdout) as { rss_mb: number; wasm_mb: number; index_mb: number; parts: Record<string, number> };
  return { rss_mb: r2(o.rss_mb), wasm_mb: r2(o.wasm_mb), index_mb: r2(o.index_mb), parts: o.parts };
}
