// Memory samples of a soak and the growth they show: least squares over the samples after the
// warm-up, in MB per 1,000 frames.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ResidentBreakdown } from '../../src/gate/face/process-memory.js';

export interface MemorySample {
  /** Frames answered when the sample was taken. */
  frames: number;
  /** The process's resident set (main thread, face worker threads, native memory), bytes. */
  rss: number;
  /** The main thread's live JS memory: V8 heap in use plus array buffers, bytes. */
  heapUsed: number;
  /** Per face worker: live tfjs tensors. */
  tensors: number[];
  /** All face workers' tfjs WASM heaps together, bytes. */
  wasmHeap: number;
  /** All face workers' V8 heaps together (physical), bytes. */
  workerHeap: number;
  /** The main thread's V8 heap (physical, young generation included), bytes. */
  mainHeap?: number;
  /** The resident set by part, where /proc/self/smaps exists. */
  parts?: ResidentBreakdown;
}

/**
 * The main thread's collector. vitest's forks are started without --expose-gc, so the flag is set
 * at run time and `gc` read from a fresh context (where V8 installs it once the flag is on).
 * Collecting before each sample takes the main thread's garbage out of the figure; the face
 * workers' isolates collect on their own.
 */
export function mainThreadGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Least-squares slope of y over x (y per unit of x); NaN for fewer than 2 distinct x. */
export function slope(points: ReadonlyArray<{ x: number; y: number }>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my);
    sxx += (p.x - mx) ** 2;
  }
  return sxx === 0 ? Number.NaN : sxy / sxx;
}

const MB = 2 ** 20;

/** RSS growth over the samples taken at or after `warmupFrames`, in MB per 1,000 frames. */
export function rssGrowthMbPer1000(samples: readonly MemorySample[], warmupFrames: number): number {
  return slope(samples.filter((s) => s.frames >= warmupFrames).map((s) => ({ x: s.frames / 1000, y: s.rss / MB })));
}

/**
 * RSS growth of the floor, in MB per 1,000 frames: the samples after the warm-up in windows of
 * `window` consecutive samples, the lowest RSS of each (at the window's middle frame), and the
 * least-squares slope through those. Garbage the face workers have not collected yet (each
 * frame's ~1 MB of pixels is copied into a worker and freed by its GC, when V8 decides) only
 * ever adds to a sample, by tens of MB; memory that is kept raises every sample, the floor too.
 */
export function rssFloorGrowthMbPer1000(samples: readonly MemorySample[], warmupFrames: number, window: number): number {
  const after = samples.filter((s) => s.frames >= warmupFrames);
  const floors: Array<{ x: number; y: number }> = [];
  for (let i = 0; i + window <= after.length; i += window) {
    const w = after.slice(i, i + window);
    floors.push({ x: (w[0].frames + w[w.length - 1].frames) / 2 / 1000, y: Math.min(...w.map((s) => s.rss)) / MB });
  }
  return slope(floors);
}

/** The samples as a small text table (MB), one row per sample whose frame count is a multiple of `every`. */
export function sampleTable(samples: readonly MemorySample[], every: number): string {
  const mb = (b: number) => (b / MB).toFixed(1).padStart(8);
  const rows = samples
    .filter((s) => s.frames % every === 0)
    .map((s) => {
      const p = s.parts ? ` ${mb(s.mainHeap ?? 0)} ${mb(s.parts.mallocMainArena + s.parts.mallocThreadArenas)} ${mb(s.parts.wasm)} ${mb(s.parts.otherAnonymous)}` : '';
      return `${String(s.frames).padStart(7)} ${mb(s.rss)} ${mb(s.heapUsed)} ${mb(s.workerHeap)} ${mb(s.wasmHeap)}${p}  ${s.tensors.join('/')}`;
    });
  const partsHead = samples.some((s) => s.parts) ? '  main v8   malloc wasm rss  anon MB' : '';
  return [`frames   rss MB  main MB  wkrs MB  wasm MB${partsHead}  tensors`, ...rows].join('\n');
}
