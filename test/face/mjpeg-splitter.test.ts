import { describe, expect, it } from 'vitest';
import { MjpegSplitter } from '../../src/gate/face/mjpeg-splitter.js';

const jpeg = (n: number, fill: number) => Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(n, fill), Buffer.from([0xff, 0xd9])]);

describe('MJPEG splitter', () => {
  it('returns each image whole, whatever the chunk boundaries', () => {
    const stream = Buffer.concat([Buffer.from('junk'), jpeg(10, 1), jpeg(20, 2), jpeg(5, 3)]);
    for (const step of [1, 3, 7, stream.length]) {
      const s = new MjpegSplitter();
      const out: Buffer[] = [];
      for (let i = 0; i < stream.length; i += step) out.push(...s.push(stream.subarray(i, i + step)));
      expect(out.map((b) => b.length)).toEqual([14, 24, 9]);
      expect(out[1][2]).toBe(2);
      expect(s.skippedBytes).toBe(4);
    }
  });

  it('drops an image longer than the bound and keeps the next', () => {
    const s = new MjpegSplitter({ maxFrameBytes: 16 });
    const out = [...s.push(Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(40, 7)])), ...s.push(jpeg(4, 9))];
    expect(s.oversize).toBe(1);
    expect(out).toHaveLength(1);
    expect(out[0][2]).toBe(9);
  });

  it('refuses a bound that is not a positive integer', () => {
    expect(() => new MjpegSplitter({ maxFrameBytes: 0 })).toThrow(TypeError);
  });
});
