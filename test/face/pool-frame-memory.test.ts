// A face worker frees its copy of each frame's pixels when it answers (face-worker.ts), instead of
// leaving them to V8, which only collects for external memory after tens of MB of it: the copies
// of past frames would otherwise sit in the gate's resident set. The frames are the face package's
// own sample photos, so this runs on a fresh clone too.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FacePool } from '../../src/gate/face/face-pool.js';
import { decodeFrame, type DecodedFrame } from '../../src/gate/face/frame-decode.js';

const FRAMES = 21;
const FRAME_BYTES = 640 * 480 * 3;

describe('a face worker and the frames it was sent', () => {
  const pool = new FacePool({ workers: 1 });
  let frames: DecodedFrame[] = [];

  beforeAll(async () => {
    frames = await Promise.all([1, 2, 3].map((i) => decodeFrame(readFileSync(`node_modules/@vladmandic/face-api/demo/sample${i}.jpg`))));
    await pool.start();
  }, 120_000);
  afterAll(() => pool.stop());

  it(`holds no frame's pixels once it has answered, over ${FRAMES} frames, and the caller keeps its own`, async () => {
    const answers = [];
    const growth: number[] = [];
    for (let i = 0; i < FRAMES; i++) {
      const [before] = await pool.stats();
      answers.push(await pool.process(frames[i % frames.length]));
      const [after] = await pool.stats();
      growth.push(after.arrayBuffers - before.arrayBuffers);
    }
    // A kept copy adds its 0.9 MB to the worker's array buffers at each frame, except at the odd
    // frame where V8 collects (and the figure drops by all it frees); a freed one adds only the
    // frame's small garbage (tfjs read-backs, tens of KB). The median frame tells the two apart.
    growth.sort((a, b) => a - b);
    const median = growth[(FRAMES - 1) / 2];
    expect(median).toBeLessThan(FRAME_BYTES / 4);
    // Every answer still came from the frame's pixels: the same frame gives the same face.
    for (let i = frames.length; i < FRAMES; i++) {
      expect(answers[i].faces).toBe(answers[i % frames.length].faces);
      expect(answers[i].chosen?.descriptor).toEqual(answers[i % frames.length].chosen?.descriptor);
    }
    expect(answers.filter((a) => a.chosen).length).toBeGreaterThan(FRAMES / 2);
    // The worker freed its copy, not the caller's frame.
    for (const f of frames) expect(f.data.length).toBe(FRAME_BYTES);
  }, 120_000);
});
