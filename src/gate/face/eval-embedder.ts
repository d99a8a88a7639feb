// The real embedder behind `sitegate face eval`: the face workers and the enrolment path (a tight
// crop gets its margin, a small face in a large photo is looked at again), so the evaluation sees
// the descriptors the gate enrols. A photo the enrolment rules refuse counts as a detection failure
// with the rule's message. Degraded copies are probes: the same path with only the gate's rule
// (the face's size), since a gate matches a blurred or tilted face it sees.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { enrolFromPhoto, probeQuality, type EnrolQuality } from './enrol.js';
import type { Embedder } from './eval-runner.js';
import { FacePool } from './face-pool.js';

const require = createRequire(import.meta.url);

export interface PipelineEmbedder {
  embedder: Embedder;
  model: string;
  close(): Promise<void>;
}

export async function pipelineEmbedder(workers = 2): Promise<PipelineEmbedder> {
  const pool = new FacePool({ workers });
  await pool.start();
  const version = (require('@vladmandic/face-api/package.json') as { version: string }).version;
  const run = async (image: string | Buffer, quality?: EnrolQuality) => {
    const bytes = typeof image === 'string' ? await readFile(image) : image;
    const out = await enrolFromPhoto(pool, bytes, quality);
    return out.ok ? { descriptor: out.descriptor } : { refused: out.message };
  };
  return {
    model: `face-api ${version} faceRecognitionNet (BlazeFace, 68 landmarks, dlib chip 150/0.25 ×2 supersampled)`,
    embedder: {
      embed: (image) => run(image),
      probe: (image) => run(image, probeQuality),
    },
    close: () => pool.stop(),
  };
}
