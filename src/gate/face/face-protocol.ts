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
  | { id: number; ok: true; stats: { tensors: number; heapUsed: number } }
  | { id: number; ok: false; code: string; message: string }
  | { id: -1; ready: true }
  | { id: -1; ready: false; code: string; message: string };
