// Messages between the main thread (face-pool.ts) and a face worker (face-worker.ts).
import type { FaceResult, RgbFrame } from './face-types.js';
import type { PipelineOptions } from './face-pipeline.js';

export interface WorkerInit {
  modelsDir: string;
  options: PipelineOptions;
}

export type WorkerRequest =
  | { id: number; kind: 'frame'; frame: RgbFrame; ir?: RgbFrame; options?: Partial<PipelineOptions> }
  | { id: number; kind: 'stats' };

export type WorkerResponse =
  | { id: number; ok: true; result: FaceResult }
  | { id: number; ok: true; stats: FaceWorkerStats }
  | { id: number; ok: false; code: string; message: string }
  | { id: -1; ready: true }
  | { id: -1; ready: false; code: string; message: string };

/** One worker's memory (heap figures are the worker's own isolate; `processRss` is the whole process). */
export interface FaceWorkerStats {
  /** Live tfjs tensors: flat across frames, or something leaks. */
  tensors: number;
  heapUsed: number;
  /** The worker's V8 heap, physical bytes. */
  v8HeapBytes: number;
  external: number;
  arrayBuffers: number;
  /** Its tfjs WASM heap (grows to the high-water mark, never shrinks). */
  wasmHeapBytes: number;
  processRss: number;
  /** Bytes of convolution filters freed once XNNPACK had packed them (packed-filter-memory.ts). */
  releasedFilterBytes: number;
}
