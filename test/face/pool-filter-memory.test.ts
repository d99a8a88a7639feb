// Convolution filters freed once XNNPACK has packed them (packed-filter-memory.ts): the same
// convolution keeps giving the same numbers, any other use of a freed filter is refused, and a face
// worker's WASM heap holds less for it.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FacePool } from '../../src/gate/face/face-pool.js';
import { decodeFrame } from '../../src/gate/face/frame-decode.js';
import { FilterReleasedError, freeFiltersOncePacked, releasedFilterBytes } from '../../src/gate/face/packed-filter-memory.js';
import { tfjsWasm, type Tf } from '../../src/gate/face/tfjs-wasm.js';
import { facesDir, haveFaces } from './faces-dir.js';

type Tensor4D = import('@tensorflow/tfjs').Tensor4D;

describe('a convolution filter freed after packing', () => {
  let tf: Tf;
  beforeAll(async () => {
    tf = await tfjsWasm();
  });

  function convPair(seed: number): { x: Tensor4D; filter: Tensor4D; copy: Tensor4D } {
    const x = tf.randomUniform([1, 12, 12, 8], -1, 1, 'float32', seed) as Tensor4D;
    const filter = tf.randomUniform([3, 3, 8, 16], -1, 1, 'float32', seed + 1) as Tensor4D;
    // The same values in a tensor of its own, never freed: the reference.
    const copy = tf.tensor4d(filter.dataSync(), filter.shape as [number, number, number, number]);
    return { x, filter, copy };
  }

  it('gives the same convolution, bit for bit, before and after its copy is freed', () => {
    const { x, filter, copy } = convPair(1);
    const before = releasedFilterBytes();
    freeFiltersOncePacked(tf, [filter]);
    const first = tf.conv2d(x, filter, 1, 'same').dataSync();
    expect(releasedFilterBytes() - before).toBe(3 * 3 * 8 * 16 * 4);
    const again = tf.conv2d(x, filter, 1, 'same').dataSync();
    const reference = tf.conv2d(x, copy, 1, 'same').dataSync();
    expect(Buffer.from(again.buffer)).toEqual(Buffer.from(first.buffer));
    expect(Buffer.from(again.buffer)).toEqual(Buffer.from(reference.buffer));
    const separable = tf.depthwiseConv2d(x, tf.randomUniform([3, 3, 8, 1], -1, 1, 'float32', 9) as Tensor4D, 1, 'same');
    expect(separable.shape).toEqual([1, 12, 12, 8]); // other convolutions still run
  });

  it('refuses a convolution with other parameters, which would pack the freed memory', () => {
    const { x, filter } = convPair(3);
    freeFiltersOncePacked(tf, [filter]);
    tf.conv2d(x, filter, 1, 'same').dispose();
    expect(() => tf.conv2d(x, filter, 2, 'same')).toThrow(FilterReleasedError);
    expect(() => tf.conv2d(x, filter, 1, 'valid')).toThrow(/freed after packing/);
  });

  it('refuses to read the freed filter or to use it in another operation', () => {
    const { x, filter } = convPair(5);
    freeFiltersOncePacked(tf, [filter]);
    tf.conv2d(x, filter, 1, 'same').dispose();
    expect(() => filter.dataSync()).toThrow(FilterReleasedError);
    expect(() => tf.add(filter, 1)).toThrow(FilterReleasedError);
    filter.dispose(); // frees its placeholder, not the freed copy a second time
    const { x: x2, filter: f2, copy } = convPair(7);
    expect(Buffer.from(tf.conv2d(x2, f2, 1, 'same').dataSync().buffer)).toEqual(Buffer.from(tf.conv2d(x2, copy, 1, 'same').dataSync().buffer));
  });

  it('accepts only float32 4-D filters', () => {
    expect(() => freeFiltersOncePacked(tf, [tf.zeros([3, 3])])).toThrow(TypeError);
  });
});

describe.skipIf(!haveFaces)('a face worker with its face-api filters freed', () => {
  const pool = new FacePool({ workers: 1 });
  beforeAll(() => pool.start(), 120_000);
  afterAll(() => pool.stop());

  it('frees ~21 MB of filters and keeps its WASM heap under 100 MB through every photo', async () => {
    const people = join(facesDir, 'people');
    const files = readdirSync(people).flatMap((p) => readdirSync(join(people, p)).map((f) => join(people, p, f)));
    let described = 0;
    for (const f of files) {
      const r = await pool.process(await decodeFrame(readFileSync(f)));
      if (r.chosen) described++;
    }
    expect(described).toBeGreaterThan(files.length * 0.9);
    const [stats] = await pool.stats();
    expect(stats.releasedFilterBytes).toBeGreaterThan(20 * 2 ** 20);
    // 119.6 MB before the filters were freed; 83.1 MB with them freed (640×480 frames).
    expect(stats.wasmHeapBytes).toBeLessThan(100 * 2 ** 20);
  }, 300_000);
});
