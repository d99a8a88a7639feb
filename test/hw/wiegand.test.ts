import { describe, expect, it } from 'vitest';
import {
  WiegandDecoder,
  decodeWiegandBits,
  encodeWiegand26,
  encodeWiegand34,
  type Bit,
  type WiegandResult,
} from '../../src/gate/hw/wiegand.js';

// Worked by hand: facility 123 = 01111011, card 4567 = 0001000111010111.
// Bits 2-13 hold seven ones -> even parity bit 1; bits 14-25 hold seven ones -> odd parity bit 0.
const CARD26 = '10111101100010001110101110';
// 0xDEADBEEF: bits 2-17 hold eleven ones -> even parity 1; bits 18-33 hold thirteen -> odd parity 0.
const CARD34 = '1' + '11011110101011011011111011101111' + '0';

const MS = 1_000_000n;
const bitsOf = (s: string): Bit[] => [...s].map((c) => (c === '1' ? 1 : 0));
const flip = (s: string, i: number): string => s.slice(0, i) + (s[i] === '1' ? '0' : '1') + s.slice(i + 1);

/** Feeds bits 2 ms apart from `startNs`, returns every result plus the final flush. */
function run(decoder: WiegandDecoder, bits: readonly Bit[], startNs = 0n): { results: WiegandResult[]; lastNs: bigint } {
  const results: WiegandResult[] = [];
  let t = startNs;
  for (const b of bits) {
    const r = decoder.feed(b, t);
    if (r) results.push(r);
    t += 2n * MS;
  }
  const lastNs = t - 2n * MS;
  const r = decoder.flush(lastNs + 25n * MS);
  if (r) results.push(r);
  return { results, lastNs };
}

describe('Wiegand encoder', () => {
  it('encodes facility 123 card 4567 to the hand-worked 26-bit frame', () => {
    expect(encodeWiegand26(123, 4567).join('')).toBe(CARD26);
  });

  it('encodes 0xDEADBEEF to the hand-worked 34-bit frame', () => {
    expect(encodeWiegand34(0xdeadbeef).join('')).toBe(CARD34);
  });

  it('refuses values that do not fit the format', () => {
    expect(() => encodeWiegand26(256, 1)).toThrow(RangeError);
    expect(() => encodeWiegand26(1, 65536)).toThrow(/card 65536/);
    expect(() => encodeWiegand34(2 ** 32)).toThrow(RangeError);
  });
});

describe('Wiegand decoder: good frames', () => {
  it('decodes a 26-bit frame into facility and card', () => {
    const { results } = run(new WiegandDecoder(), bitsOf(CARD26));
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ ok: true, bits: 26, facility: 123, card: 4567, value: 123 * 65536 + 4567, raw: CARD26 });
  });

  it('decodes a 34-bit frame into its 32-bit number', () => {
    const { results } = run(new WiegandDecoder(), bitsOf(CARD34));
    expect(results).toEqual([expect.objectContaining({ ok: true, bits: 34, card: 0xdeadbeef, value: 0xdeadbeef })]);
    expect(results[0]).not.toHaveProperty('facility');
  });

  it('decodes the extremes of both formats', () => {
    for (const [f, c] of [[0, 0], [255, 65535], [1, 1]] as const) {
      expect(decodeWiegandBits(encodeWiegand26(f, c))).toMatchObject({ ok: true, facility: f, card: c });
    }
    for (const v of [0, 1, 0xffffffff, 0x80000000]) {
      expect(decodeWiegandBits(encodeWiegand34(v))).toMatchObject({ ok: true, value: v });
    }
  });

  it('waits for silence before deciding, and not earlier', () => {
    const d = new WiegandDecoder();
    bitsOf(CARD26).forEach((b, i) => expect(d.feed(b, BigInt(i) * 2n * MS)).toBeNull());
    const last = 25n * 2n * MS;
    expect(d.flush(last + 24n * MS)).toBeNull();
    expect(d.pending).toBe(26);
    expect(d.flush(last + 25n * MS)).toMatchObject({ ok: true, card: 4567 });
    expect(d.pending).toBe(0);
  });

  it('ends the previous frame when the next pulse comes after a silence nobody flushed', () => {
    const d = new WiegandDecoder();
    let t = 0n;
    for (const b of bitsOf(CARD26)) {
      expect(d.feed(b, t)).toBeNull();
      t += 2n * MS;
    }
    t += 40n * MS;
    const ended = d.feed(bitsOf(CARD34)[0], t);
    expect(ended).toMatchObject({ ok: true, bits: 26, card: 4567 });
    expect(d.pending).toBe(1);
  });

  it('accepts gaps of up to 20 ms inside a frame', () => {
    const d = new WiegandDecoder();
    const results: WiegandResult[] = [];
    bitsOf(CARD26).forEach((b, i) => {
      const r = d.feed(b, BigInt(i) * 20n * MS);
      if (r) results.push(r);
    });
    expect(results).toEqual([]);
    expect(d.endOfFrame()).toMatchObject({ ok: true, card: 4567 });
  });
});

describe('Wiegand decoder: errors', () => {
  const cases: Array<[string, string, 'even' | 'odd']> = [
    ['26-bit even parity bit', flip(CARD26, 0), 'even'],
    ['26-bit odd parity bit', flip(CARD26, 25), 'odd'],
    ['26-bit facility bit (covered by even parity)', flip(CARD26, 3), 'even'],
    ['26-bit card bit (covered by odd parity)', flip(CARD26, 20), 'odd'],
    ['34-bit even parity bit', flip(CARD34, 0), 'even'],
    ['34-bit odd parity bit', flip(CARD34, 33), 'odd'],
    ['34-bit bit 17 (last under even parity)', flip(CARD34, 16), 'even'],
    ['34-bit bit 18 (first under odd parity)', flip(CARD34, 17), 'odd'],
  ];
  for (const [what, frame, parity] of cases) {
    it(`reports a parity error when the ${what} is flipped`, () => {
      const { results } = run(new WiegandDecoder(), bitsOf(frame));
      expect(results).toEqual([expect.objectContaining({ ok: false, code: 'parity', parity, raw: frame })]);
    });
  }

  it('reports both parities when both parity bits are flipped', () => {
    const { results } = run(new WiegandDecoder(), bitsOf(flip(flip(CARD26, 0), 25)));
    expect(results[0]).toMatchObject({ ok: false, code: 'parity', parity: 'both' });
  });

  it('reports a bit count error for a frame with a dropped bit', () => {
    const { results } = run(new WiegandDecoder(), bitsOf(CARD26.slice(1)));
    expect(results).toEqual([expect.objectContaining({ ok: false, code: 'bit_count', bits: 25 })]);
    expect((results[0] as { message: string }).message).toMatch(/25 bits/);
  });

  it('reports a bit count error for formats it does not understand', () => {
    for (const n of [8, 30, 35, 37]) {
      const { results } = run(new WiegandDecoder(), Array<Bit>(n).fill(1));
      expect(results).toEqual([expect.objectContaining({ code: 'bit_count', bits: n })]);
    }
  });

  it('reports a burst of one or two pulses as noise, not as a frame', () => {
    const { results } = run(new WiegandDecoder(), [1, 0]);
    expect(results).toEqual([expect.objectContaining({ ok: false, code: 'noise', bits: 2 })]);
  });

  it('reports a frame with pulses closer than the minimum interval as noise', () => {
    const d = new WiegandDecoder();
    const bits = bitsOf(CARD26);
    bits.forEach((b, i) => d.feed(b, BigInt(i) * 2n * MS));
    // A glitch on D0 10 µs after the last pulse.
    d.feed(0, 25n * 2n * MS + 10_000n);
    expect(d.endOfFrame()).toMatchObject({ ok: false, code: 'noise', bits: 27 });
  });

  it('cuts a flood of pulses without silence at the bit limit, reports it once, and recovers after silence', () => {
    const d = new WiegandDecoder({ maxBits: 64 });
    const results: WiegandResult[] = [];
    let t = 0n;
    let maxPending = 0;
    for (let i = 0; i < 10_000; i++) {
      const r = d.feed((i % 2) as Bit, t);
      if (r) results.push(r);
      maxPending = Math.max(maxPending, d.pending);
      t += 1n * MS;
    }
    expect(maxPending).toBeLessThanOrEqual(64);
    expect(results).toEqual([expect.objectContaining({ ok: false, code: 'bit_count', bits: 65 })]);
    expect(d.flush(t + 25n * MS)).toBeNull();

    const after = run(d, bitsOf(CARD26), t + 30n * MS);
    expect(after.results).toEqual([expect.objectContaining({ ok: true, card: 4567 })]);
  });

  it('checks its options', () => {
    expect(() => new WiegandDecoder({ frameGapMs: 0 })).toThrow(TypeError);
    expect(() => new WiegandDecoder({ maxBits: 20 })).toThrow(/maxBits/);
  });
});
