import { describe, expect, it } from 'vitest';
import {
  WiegandDecoder,
  encodeWiegand26,
  encodeWiegand34,
  type Bit,
  type WiegandResult,
} from '../../src/gate/hw/wiegand.js';

const MS = 1_000_000n;

/** Deterministic PRNG (mulberry32) so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('Wiegand decoder under fuzzing', () => {
  it('never throws and never buffers more than maxBits over 100,000 random edge sequences', () => {
    const rand = rng(0x5eed);
    const decoder = new WiegandDecoder();
    let t = 0n;
    let results = 0;
    let maxPending = 0;
    for (let seq = 0; seq < 100_000; seq++) {
      const len = Math.floor(rand() * 80);
      for (let i = 0; i < len; i++) {
        const r = rand();
        // Mostly plausible gaps, some glitches (< 100 µs), some silences, some timestamps running backwards.
        const gapNs = r < 0.7 ? BigInt(Math.floor(200_000 + rand() * 2_000_000)) : r < 0.85 ? BigInt(Math.floor(rand() * 100_000)) : r < 0.95 ? BigInt(Math.floor(rand() * 60)) * MS : -BigInt(Math.floor(rand() * 5)) * MS;
        t += gapNs;
        if (decoder.feed(rand() < 0.5 ? 0 : 1, t)) results++;
        maxPending = Math.max(maxPending, decoder.pending);
      }
      const end = rand();
      if (end < 0.3 && decoder.flush(t + 25n * MS)) results++;
      else if (end < 0.4 && decoder.endOfFrame()) results++;
    }
    expect(maxPending).toBeLessThanOrEqual(64);
    expect(results).toBeGreaterThan(10_000);
  });

  it('decodes no mutated frame into a card it was not: 100,000 valid frames with random bits flipped, dropped or doubled', () => {
    const rand = rng(42);
    const decoder = new WiegandDecoder();
    let t = 0n;
    let accepted = 0;
    let rejected = 0;
    let wrong = 0;
    for (let n = 0; n < 100_000; n++) {
      const frame: Bit[] = rand() < 0.5 ? encodeWiegand26(Math.floor(rand() * 256), Math.floor(rand() * 65536)) : encodeWiegand34(Math.floor(rand() * 2 ** 32));
      const mutated = [...frame];
      const k = Math.floor(rand() * 4);
      for (let m = 0; m < k; m++) {
        const i = Math.floor(rand() * mutated.length);
        const op = rand();
        if (op < 0.5) mutated[i] = (1 - mutated[i]) as Bit;
        else if (op < 0.75) mutated.splice(i, 1);
        else mutated.splice(i, 0, mutated[i]);
      }
      const out: WiegandResult[] = [];
      for (const b of mutated) {
        const r = decoder.feed(b, t);
        if (r) out.push(r);
        t += 2n * MS;
      }
      t += 30n * MS;
      const r = decoder.flush(t);
      if (r) out.push(r);
      const res = out[0];
      if (out.length !== 1) wrong++;
      else if (res.ok) {
        accepted++;
        // Whatever passed both parities re-encodes to exactly the bits received.
        const again = res.bits === 26 ? encodeWiegand26(res.facility as number, res.card) : encodeWiegand34(res.card);
        if (again.join('') !== res.raw || res.raw !== mutated.join('')) wrong++;
      } else {
        rejected++;
      }
    }
    expect(wrong).toBe(0);
    expect(accepted + rejected).toBe(100_000);
    expect(rejected).toBeGreaterThan(50_000);
  });

  it('recovers every valid frame between faults that cannot be valid, and counts exactly the faults', () => {
    const rand = rng(7);
    const decoder = new WiegandDecoder();
    const sent: string[] = [];
    let faults = 0;
    let t = 0n;
    const results: WiegandResult[] = [];
    const send = (bits: readonly Bit[]) => {
      for (const b of bits) {
        const r = decoder.feed(b, t);
        if (r) results.push(r);
        t += BigInt(Math.floor(250_000 + rand() * 19_000_000)); // gaps 250 µs-19.25 ms, all under the frame gap
      }
      t += BigInt(25 + Math.floor(rand() * 100)) * MS; // silence ≥ 25 ms after the last pulse ends the frame
    };
    for (let n = 0; n < 20_000; n++) {
      const frame = rand() < 0.5 ? encodeWiegand26(Math.floor(rand() * 256), Math.floor(rand() * 65536)) : encodeWiegand34(Math.floor(rand() * 2 ** 32));
      const fault = rand();
      if (fault < 0.5) {
        send(frame);
        sent.push(frame.join(''));
        continue;
      }
      faults++;
      const bad = [...frame];
      const i = Math.floor(rand() * bad.length);
      const parityBit = rand() < 0.5 ? 0 : bad.length - 1;
      if (fault < 0.7) bad[parityBit] = (1 - bad[parityBit]) as Bit; // a parity bit flipped
      else if (fault < 0.85) bad[i] = (1 - bad[i]) as Bit; // any single bit flipped breaks the parity of its half
      else if (fault < 0.95) bad.splice(i, 1); // a dropped bit: 25 or 33 bits
      else bad.splice(i, 0, 1); // an extra bit: 27 or 35
      send(bad);
    }
    const last = decoder.flush(t);
    if (last) results.push(last);
    const frames = results.filter((r) => r.ok);
    const errors = results.filter((r) => !r.ok);
    expect(frames.map((f) => f.raw)).toEqual(sent);
    expect(errors).toHaveLength(faults);
    expect(new Set(errors.map((e) => (e.ok ? '' : e.code)))).toEqual(new Set(['parity', 'bit_count']));
  });

  it('a decoder that dropped everything would fail the test above (the counts are not trivially met)', () => {
    const decoder = new WiegandDecoder();
    const frame = encodeWiegand26(1, 2);
    let t = 0n;
    for (const b of frame) {
      decoder.feed(b, t);
      t += 2n * MS;
    }
    expect(decoder.flush(t + 25n * MS)).toMatchObject({ ok: true, facility: 1, card: 2 });
  });
});
