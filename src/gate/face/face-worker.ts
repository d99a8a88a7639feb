// worker_threads entry: one tfjs instance and one set of models per worker; answers frame
// requests from face-pool.ts one at a time. Plain erasable TypeScript only (it also runs from
// src/ under Node's type stripping in tests).
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { FacePipeline, type PipelineOptions } from './face-pipeline.js';
import type { FaceWorkerStats } from './face-pool.js';
import { releasedFilterBytes } from './packed-filter-memory.js';
import { releasePixels } from './release-pixels.js';
import { tfjsWasm, wasmHeapBytes } from './tfjs-wasm.js';
import type { WorkerInit, WorkerRequest, WorkerResponse } from './face-protocol.js';

const port = parentPort;
if (!port) throw new Error('face-worker.ts runs as a worker thread');
const init = workerData as WorkerInit;

function merge(base: PipelineOptions, over?: Partial<PipelineOptions>): PipelineOptions {
  if (!over) return base;
  return {
    detector: { ...base.detector, ...over.detector },
    choose: { ...base.choose, ...over.choose },
    landmarkCropScale: over.landmarkCropScale ?? base.landmarkCropScale,
  };
}

const send = (m: WorkerResponse) => port.postMessage(m);

/**
 * Face matching is best effort next to the card path: on 2 cores, 2 busy face workers at the
 * main thread's priority delay a card's relay by tens of ms (the scheduler's time slices). Linux
 * keeps a nice value per thread, so this thread alone steps back; elsewhere nothing changes.
 */
const FACE_THREAD_NICE = 10;
function lowerThisThreadsPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, FACE_THREAD_NICE);
  } catch {
    // not Linux, or not allowed: the thread keeps the process's priority
  }
}
lowerThisThreadsPriority();

try {
  const pipeline = await FacePipeline.load(init.modelsDir);
  const tf = await tfjsWasm();
  const stats = (): FaceWorkerStats => {
    const m = process.memoryUsage();
    return {
      tensors: pipeline.tensorCount(),
      heapUsed: m.heapUsed,
      v8HeapBytes: getHeapStatistics().total_physical_size,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      wasmHeapBytes: wasmHeapBytes(tf),
      processRss: m.rss,
      releasedFilterBytes: releasedFilterBytes(),
    };
  };
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (req: WorkerRequest) => {
    queue = queue.then(async () => {
      try {
        if (req.kind === 'stats') {
          send({ id: req.id, ok: true, stats: stats() });
          return;
        }
        let result;
        try {
          result = await pipeline.process(req.frame, merge(init.options, req.options), req.ir);
        } finally {
          // This worker's copies of the pixels (release-pixels.ts); the caller keeps its own.
          releasePixels(req.frame.data);
          releasePixels(req.ir?.data);
        }
        const transfer = result.chosen ? [result.chosen.descriptor.buffer as ArrayBuffer, result.chosen.landmarks.buffer as ArrayBuffer] : [];
        port.postMessage({ id: req.id, ok: true, result } satisfies WorkerResponse, transfer);
      } catch (err) {
        send({ id: req.id, ok: false, code: 'face_pipeline_error', message: (err as Error).message });
      }
    });
  });
  send({ id: -1, ready: true });
} catch (err) {
  send({ id: -1, ready: false, code: 'face_models_load', message: (err as Error).message });
}
