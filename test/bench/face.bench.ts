// Face pipeline figures (per frame, through the worker pool as the gate runs it): 640×480 JPEG
// frames decoded with sharp, then detection, landmarks, alignment, descriptor and model liveness.
// The 1:N search is not included here (its own figure comes from the index bench).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { percentile } from '../../dist/core/stats.js';
import { FacePool } from '../../dist/gate/face/face-pool.js';
import { decodeFrame } from '../../dist/gate/face/frame-decode.js';

const r2 = (v: number) => Math.round(v * 100) / 100;

async function cameraFrames(): Promise<Buffer[]> {
  const shared = '/work/shared/faces/people';
  const files = existsSync(shared)
    ? readdirSync(shared).flatMap((p) => readdirSync(join(shared, p)).filter((f) => f.endsWith('.jpg') || f.endsWith('.jpeg')).map((f) => join(shared, p, f)))
    : [1, 2, 3, 4, 5, 6].map((i) => `node_modules/@vladmandic/face-api/demo/sample${i}.jpg`);
  // As a camera would send them: 640×480 JPEGs.
  return Promise.all(files.map((f) => sharp(readFileSync(f)).rotate().resize(640, 480, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer()));
}

export default async function face(): Promise<Record<string, number>> {
  const frames = await cameraFrames();
  const pool = new FacePool({ workers: 2 });
  await pool.start();
  try {
    const one = async (i: number) => pool.process(await decodeFrame(frames[i % frames.length]));
    for (let i = 0; i < 20; i++) await one(i); // warm-up: both workers' WASM heaps at frame size

    const lat: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      await one(i);
      lat.push(performance.now() - t0);
    }

    const n = 300;
    let next = 0;
    const t0 = performance.now();
    await Promise.all([0, 1, 2, 3].map(async () => {
      while (next < n) await one(next++);
    }));
    const fps = n / ((performance.now() - t0) / 1000);

    let done = 520;
    const target = 2000;
    await Promise.all([0, 1, 2, 3].map(async () => {
      while (done < target) await one(done++);
    }));
    const rss = process.memoryUsage().rss / 1024 / 1024;
    return {
      face_frame_to_decision_p50_ms: r2(percentile(lat, 50)),
      face_frame_to_decision_p99_ms: r2(percentile(lat, 99)),
      face_frames_per_s: r2(fps),
      gate_rss_mb_face: r2(rss),
    };
  } finally {
    await pool.stop();
  }
}
