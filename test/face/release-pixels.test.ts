// Pixels freed as soon as they are no longer needed (release-pixels.ts): in frame decoding, the
// intermediate stages; in a face worker, its copy of the frame (pool-frame-memory.test.ts).
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeFrame } from '../../src/gate/face/frame-decode.js';
import { releasePixels } from '../../src/gate/face/release-pixels.js';

describe('releasing pixels', () => {
  it('frees a view that owns its whole buffer', () => {
    const px = new Uint8Array(1024);
    releasePixels(px);
    expect(px.buffer.byteLength).toBe(0);
    expect(px.length).toBe(0);
    releasePixels(px); // already freed: nothing happens
  });

  it('leaves a slice of a larger buffer, a shared buffer and nothing alone', () => {
    const whole = new Uint8Array(1024);
    const slice = whole.subarray(0, 512);
    releasePixels(slice);
    expect(whole.length).toBe(1024);
    const shared = new Uint8Array(new SharedArrayBuffer(64));
    releasePixels(shared);
    expect(shared.length).toBe(64);
    const pooled = Buffer.from('small buffers share Node’s 8 KB pool');
    releasePixels(pooled);
    expect(pooled.toString()).toBe('small buffers share Node’s 8 KB pool');
    releasePixels(undefined);
  });
});

describe('frame decoding and memory', () => {
  it('keeps only the frame it returns: each decode adds one frame of memory outside the V8 heap, not one per stage', async () => {
    // A camera-sized picture (800×600): its stages are 1.4 and 2.2 MB, little enough per decode that V8
    // does not collect at every other one.
    const jpeg = await sharp(readFileSync('node_modules/@vladmandic/face-api/demo/sample1.jpg')).resize(800, 600).jpeg().toBuffer();
    const size = { width: 640, height: 480 };
    const frameBytes = size.width * size.height * 3;
    const kept = [];
    const growth: number[] = [];
    for (let i = 0; i < 15; i++) {
      const before = process.memoryUsage().external;
      // The grey margin adds a stage: picture → oriented → padded → letterboxed.
      kept.push(await decodeFrame(jpeg, size, { pad: 0.1 }));
      growth.push(process.memoryUsage().external - before);
    }
    // Kept stages would add their 3.6 MB too, except at the
    // odd decode where V8 collects them; the median decode tells the two apart.
    growth.sort((a, b) => a - b);
    expect(growth[7]).toBeLessThan(1.5 * frameBytes);
    expect(growth[7]).toBeGreaterThan(0.5 * frameBytes);
    for (const f of kept) expect(f.data.length).toBe(frameBytes);
  });
});
