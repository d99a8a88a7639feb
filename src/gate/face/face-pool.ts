// The main thread's side of face matching: N worker threads, each with its own tfjs and models;
// frames go to the least busy worker and come back as FaceResults. No model runs on the main
// thread. start() verifies every model file against models/manifest.json first and refuses to
// start (naming the file) on a missing or changed one.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SitegateError } from '../../core/errors.js';
import { defaultPipelineOptions, type PipelineOptions } from './face-pipeline.js';
import type { FaceWorkerStats, WorkerInit, WorkerRequest, WorkerResponse } from './face-protocol.js';

export type { FaceWorkerStats } from './face-protocol.js';
import type { FaceResult, RgbFrame } from './face-types.js';
import { defaultManifestPath, defaultModelsDir, readModelManifest, verifyModels } from './models.js';

export interface FacePoolOptions {
  /** Worker threads (each holds its own tfjs and models: about 110 MB resident, ~77 MB of it its WASM heap). */
  workers: number;
  modelsDir?: string;
  manifestPath?: string;
  pipeline?: PipelineOptions;
}


interface Pending {
  resolve(v: WorkerResponse): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  busy: number;
  pending: Map<number, Pending>;
}

// Under vitest the sources run as .ts: the worker then gets a resolve hook mapping our `.js`
// specifiers to the `.ts` files beside them, and Node strips the types.
function workerScript(): { script: string | URL; eval: boolean } {
  const here = new URL('./face-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return { script: here, eval: false };
  const ts = new URL('./face-worker.ts', import.meta.url).href;
  const boot = `
const { registerHooks } = require('node:module');
registerHooks({ resolve(spec, ctx, next) {
  try { return next(spec, ctx); } catch (err) {
    if (spec.startsWith('.') && spec.endsWith('.js')) return next(spec.slice(0, -3) + '.ts', ctx);
    throw err;
  }
} });
import(${JSON.stringify(ts)});`;
  return { script: boot, eval: true };
}

export class FacePool {
  private readonly opts: Required<FacePoolOptions>;
  private slots: Slot[] = [];
  private nextId = 1;

  constructor(opts: FacePoolOptions) {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) throw new TypeError(`face workers must be a positive integer, got ${opts.workers}`);
    this.opts = {
      workers: opts.workers,
      modelsDir: opts.modelsDir ?? defaultModelsDir,
      manifestPath: opts.manifestPath ?? defaultManifestPath,
      pipeline: opts.pipeline ?? defaultPipelineOptions,
    };
  }

  get size(): number {
    return this.slots.length;
  }

  async start(): Promise<void> {
    verifyModels(readModelManifest(this.opts.manifestPath), this.opts.modelsDir);
    const { script, eval: isEval } = workerScript();
    const init: WorkerInit = { modelsDir: this.opts.modelsDir, options: this.opts.pipeline };
    const started = Array.from({ length: this.opts.workers }, () => this.spawn(script, isEval, init));
    const results = await Promise.allSettled(started);
    this.slots = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      await this.stop();
      throw (failed as PromiseRejectedResult).reason;
    }
  }

  private spawn(script: string | URL, isEval: boolean, init: WorkerInit): Promise<Slot> {
    return new Promise((resolve, reject) => {
      // A small young generation: a worker allocates little JS per frame (the tensors live in the
      // WASM heap), and V8's default semi-spaces would hold tens of MB per worker for nothing.
      const worker = new Worker(script, { eval: isEval, workerData: init, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
      const slot: Slot = { worker, busy: 0, pending: new Map() };
      let ready = false;
      worker.on('message', (m: WorkerResponse) => {
        if ('ready' in m) {
          if (m.ready) {
            ready = true;
            resolve(slot);
          } else {
            reject(new SitegateError(m.code, `face worker could not load its models: ${m.message}`));
          }
          return;
        }
        const p = slot.pending.get(m.id);
        if (!p) return;
        slot.pending.delete(m.id);
        slot.busy--;
        p.resolve(m);
      });
      const fail = (err: Error) => {
        if (!ready) reject(err);
        for (const p of slot.pending.values()) p.reject(err);
        slot.pending.clear();
        slot.busy = 0;
        this.slots = this.slots.filter((s) => s !== slot);
      };
      worker.on('error', (err) => fail(new SitegateError('face_worker_crashed', `face worker failed: ${err.message}`)));
      worker.on('exit', (code) => fail(new SitegateError('face_worker_exited', `face worker exited (code ${code})`)));
    });
  }

  private request(slot: Slot, req: WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerResponse> {
    return new Promise((resolve, reject) => {
      slot.pending.set(req.id, { resolve, reject });
      slot.busy++;
      slot.worker.postMessage(req, transfer);
    });
  }

  private leastBusy(): Slot {
    if (!this.slots.length) throw new SitegateError('face_pool_stopped', 'face matching is not running (no face worker)');
    return this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
  }

  /**
   * Runs the pipeline on one frame (and the IR frame, on a site with an IR camera). The frame's
   * bytes are copied to the worker; the caller keeps its buffer.
   */
  async process(frame: RgbFrame, opts: { ir?: RgbFrame; options?: Partial<PipelineOptions> } = {}): Promise<FaceResult> {
    const res = await this.request(this.leastBusy(), { id: this.nextId++, kind: 'frame', frame, ir: opts.ir, options: opts.options });
    if ('ok' in res && res.ok && 'result' in res) return res.result;
    if ('ok' in res && !res.ok) throw new SitegateError(res.code, res.message);
    throw new SitegateError('face_protocol', 'unexpected reply from a face worker');
  }

  /** Per worker: live tfjs tensors and memory (for leak checks and the memory figures). */
  async stats(): Promise<FaceWorkerStats[]> {
    return Promise.all(
      this.slots.map(async (slot) => {
        const res = await this.request(slot, { id: this.nextId++, kind: 'stats' });
        if ('ok' in res && res.ok && 'stats' in res) return res.stats as FaceWorkerStats;
        throw new SitegateError('face_protocol', 'unexpected reply from a face worker');
      }),
    );
  }

  async stop(): Promise<void> {
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
