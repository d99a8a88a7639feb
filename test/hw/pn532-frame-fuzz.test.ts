import { describe, expect, it } from 'vitest';
import {
  ACK_FRAME,
  ERROR_FRAME,
  NACK_FRAME,
  Pn532FrameParser,
  encodeFrame,
  type Pn532FrameResult,
} from '../../src/gate/hw/pn532-frame.js';

/** Seeded PRNG (mulberry32): the same stream on every run, so a failure can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const bytes = (n: number, lo = 0, hi = 255) => Buffer.from(Array.from({ length: n }, () => int(lo, hi)));
  return { next, int, bytes };
}

type Rng = ReturnType<typeof rng>;

function validFrame(r: Rng): { bytes: Buffer; expect: Pn532FrameResult } {
  const k = r.int(0, 9);
  if (k === 0) return { bytes: ACK_FRAME, expect: { type: 'ack' } };
  if (k === 1) return { bytes: NACK_FRAME, expect: { type: 'nack' } };
  if (k === 2) return { bytes: ERROR_FRAME, expect: { type: 'error' } };
  const tfi = r.next() < 0.5 ? 0xd4 : 0xd5;
  const data = r.bytes(r.int(1, 40));
  return { bytes: encodeFrame(tfi, data), expect: { type: 'data', tfi, data } };
}

function mutate(r: Rng, f: Buffer): Buffer {
  const b = Buffer.from(f);
  switch (r.int(0, 7)) {
    case 0:
      return b;
    case 1: {
      const i = r.int(0, b.length - 1);
      b[i] ^= 1 << r.int(0, 7);
      return b;
    }
    case 2: {
      const i = r.int(0, b.length - 1);
      return Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
    }
    case 3: {
      const i = r.int(0, b.length);
      return Buffer.concat([b.subarray(0, i), r.bytes(1), b.subarray(i)]);
    }
    case 4:
      return b.subarray(0, r.int(0, b.length));
    case 5:
      return r.bytes(r.int(0, 40));
    case 6: {
      // a header announcing a long frame that never comes
      const len = r.int(1, 0xffff);
      return Buffer.from([0x00, 0x00, 0xff, 0xff, 0xff, len >> 8, len & 0xff, (0x100 - ((len >> 8) + (len & 0xff))) & 0xff, ...r.bytes(r.int(0, 20))]);
    }
    default:
      return Buffer.concat([b, b.subarray(0, r.int(0, b.length))]);
  }
}

describe('PN532 frame parser under fuzzing', () => {
  it('takes 100,000 random and mutated frames without throwing or growing its buffer', () => {
    const r = rng(0x5eed);
    const parser = new Pn532FrameParser();
    let results = 0;
    let frames = 0;
    let largest = 0;
    for (let n = 0; n < 100_000; n++) {
      const bytes = mutate(r, validFrame(r).bytes);
      for (let at = 0; at < bytes.length; ) {
        const size = r.int(1, 64);
        const out = parser.feed(bytes.subarray(at, at + size));
        at += size;
        largest = Math.max(largest, parser.buffered);
        for (const res of out) {
          results++;
          if (res.type === 'data') {
            frames++;
            expect([0xd4, 0xd5]).toContain(res.tfi);
            expect(res.data.length).toBeLessThan(parser.maxLength);
          }
        }
      }
    }
    expect(largest).toBeLessThanOrEqual(parser.maxBuffered);
    // The mix keeps many frames intact: a parser that drops everything fails here.
    expect(frames).toBeGreaterThan(20_000);
    expect(results).toBeGreaterThan(frames);
  });

  it('recovers every valid frame between injected faults and counts one error per fault', () => {
    const r = rng(42);
    const chunks: Buffer[] = [];
    const expected: Pn532FrameResult[] = [];
    let faults = 0;
    for (let n = 0; n < 20_000; n++) {
      const v = validFrame(r);
      chunks.push(v.bytes);
      expected.push(v.expect);
      if (r.next() >= 0.3) continue;
      chunks.push(faultyFrame(r));
      faults++;
    }
    const stream = Buffer.concat(chunks);
    const parser = new Pn532FrameParser();
    const got: Pn532FrameResult[] = [];
    for (let at = 0; at < stream.length; ) {
      const size = r.int(1, 200);
      got.push(...parser.feed(stream.subarray(at, at + size)));
      at += size;
      expect(parser.buffered).toBeLessThanOrEqual(parser.maxBuffered);
    }
    got.push(...parser.end());
    const good = got.filter((g) => g.type !== 'bad');
    const bad = got.filter((g) => g.type === 'bad');
    expect(faults).toBeGreaterThan(5000);
    expect(good).toEqual(expected);
    expect(bad).toHaveLength(faults);
    const errors = parser.stats().errors;
    expect(Object.values(errors).reduce((a, b) => a + b, 0)).toBe(faults);
  });
});

/**
 * A data frame damaged so it cannot be valid whatever follows it. Dropping a zero data byte (or a
 * zero DCS) leaves the checksum right, and dropping a preamble or postamble byte leaves a frame the
 * chip itself would accept, so those are not drawn. With 1-40 data bytes LEN is at most 0x29,
 * so a dropped LEN or LCS can never line up with TFI D4/D5 into a valid header.
 */
function faultyFrame(r: Rng): Buffer {
  const data = r.bytes(r.int(1, 40));
  const f = encodeFrame(r.next() < 0.5 ? 0xd4 : 0xd5, data);
  const kind = r.int(0, 3);
  if (kind === 0) {
    f[4] ^= r.int(1, 255); // LCS
    return f;
  }
  if (kind === 1) {
    f[f.length - 2] ^= r.int(1, 255); // DCS
    return f;
  }
  if (kind === 2) return Buffer.from(r.bytes(r.int(1, 8), 1, 254)); // garbage between frames
  const droppable = [2, 3, 4, 5];
  for (let i = 6; i < f.length - 1; i++) if (f[i] !== 0) droppable.push(i); // data bytes and DCS
  const i = droppable[r.int(0, droppable.length - 1)];
  return Buffer.concat([f.subarray(0, i), f.subarray(i + 1)]);
}
