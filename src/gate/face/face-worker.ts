// worker_threads entry: one tfjs instance and one set of models per worker; answers frame
// requests from face-pool.ts one at a time. Plain erasable TypeScript only (it also runs from
// src/ under Node's type stripping in tests).
import { parentPort, workerData } from 'node:worker_threads';
import { FacePipeline, type PipelineOptions } from './face-pipeline.js';
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

try {
  const pipeline = await FacePipeline.load(init.modelsDir);
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (req: WorkerRequest) => {
    queue = queue.then(async () => {
      try {
        if (req.kind === 'stats') {
          send({ id: req.id, ok: true, stats: { tensors: pipeline.tensorCount(), heapUsed: process.memoryUsage().heapUsed } });
          return;
        }
        const result = await pipeline.process(req.frame, merge(init.options, req.options), req.ir);
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
