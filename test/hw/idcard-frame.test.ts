import { describe, expect, it } from 'vitest';
import {
  commandFrame,
  encodeFrame,
  Ga467FrameParser,
  PREAMBLE,
  READ_REPLY_LEN,
  replyFrame,
  type Ga467ParseResult,
} from '../../src/gate/hw/idcard-frame.js';

const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const frames = (rs: Ga467ParseResult[]) => rs.filter((r) => r.ok).map((r) => r.body.toString('hex'));
const errors = (rs: Ga467ParseResult[]) => rs.filter((r) => !r.ok).map((r) => r.code);

/** Deterministic PRNG (mulberry32), so a failing fuzz run can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('GA 467 frames', () => {
  it('encodes the find, select, read and SAM id commands byte for byte', () => {
    expect(commandFrame(0x20, 0x01)).toEqual(h('AAAAAA9669 0003 2001 22'));
    expect(commandFrame(0x20, 0x02)).toEqual(h('AAAAAA9669 0003 2002 21'));
    expect(commandFrame(0x30, 0x01)).toEqual(h('AAAAAA9669 0003 3001 32'));
    expect(commandFrame(0x12, 0xff)).toEqual(h('AAAAAA9669 0003 12FF EE'));
  });

  it('encodes the found, selected and no-card replies as a SAM sends them', () => {
    expect(replyFrame(0x9f, Buffer.alloc(4))).toEqual(h('AAAAAA9669 0008 00009F 00000000 97'));
    expect(replyFrame(0x90, Buffer.alloc(8))).toEqual(h('AAAAAA9669 000C 000090 0000000000000000 9C'));
    expect(replyFrame(0x80, Buffer.alloc(4))).toEqual(h('AAAAAA9669 0008 000080 00000000 88'));
  });

  it('refuses a body too long for LEN', () => {
    expect(() => encodeFrame(Buffer.alloc(0xffff))).toThrow(RangeError);
  });

  it('parses a reply into its body', () => {
    const p = new Ga467FrameParser({ minLength: 4 });
    expect(p.push(h('AAAAAA9669 0008 00009F 00000000 97'))).toEqual([{ ok: true, body: h('00009F00000000') }]);
    expect(p.buffered()).toBe(0);
  });

  it('parses a frame fed one byte at a time, reporting it exactly once', () => {
    const p = new Ga467FrameParser();
    const out: Ga467ParseResult[] = [];
    for (const b of commandFrame(0x30, 0x01)) out.push(...p.push(Buffer.from([b])));
    expect(frames(out)).toEqual(['3001']);
    expect(errors(out)).toEqual([]);
  });

  it('parses the full 1295-byte read reply', () => {
    const data = Buffer.alloc(READ_REPLY_LEN - 4, 0x41);
    const frame = replyFrame(0x90, data);
    expect(frame.length).toBe(1295);
    const out = new Ga467FrameParser().push(frame);
    expect(out).toHaveLength(1);
    expect(out[0].ok && out[0].body.length).toBe(READ_REPLY_LEN - 1);
  });

  it('parses two frames in one chunk', () => {
    const p = new Ga467FrameParser();
    expect(frames(p.push(Buffer.concat([commandFrame(0x20, 0x01), commandFrame(0x20, 0x02)])))).toEqual(['2001', '2002']);
  });

  it('skips garbage before a preamble and reports it once with its size', () => {
    const p = new Ga467FrameParser();
    const out = [...p.push(h('0102AAAA')), ...p.push(h('0304')), ...p.push(commandFrame(0x20, 0x01))];
    expect(out).toEqual([
      { ok: false, code: 'garbage', message: '6 bytes before a preamble skipped', bytes: 6 },
      { ok: true, body: h('2001') },
    ]);
  });

  it('keeps a preamble split across chunks', () => {
    const p = new Ga467FrameParser();
    const f = commandFrame(0x12, 0xff);
    expect(p.push(Buffer.concat([h('55'), f.subarray(0, 4)]))).toEqual([]);
    expect(p.buffered()).toBe(4);
    const out = p.push(f.subarray(4));
    expect(errors(out)).toEqual(['garbage']);
    expect(frames(out)).toEqual(['12ff']);
  });

  it('treats four AA bytes before 96 69 as one byte of garbage and a frame', () => {
    const p = new Ga467FrameParser();
    const out = p.push(Buffer.concat([h('AA'), commandFrame(0x20, 0x01)]));
    expect(out.map((r) => (r.ok ? 'frame' : `${r.code}:${r.bytes}`))).toEqual(['garbage:1', 'frame']);
  });

  it('reports a bad checksum with both values and finds the next frame', () => {
    const bad = commandFrame(0x20, 0x01);
    bad[bad.length - 1] = 0x23;
    const out = new Ga467FrameParser().push(Buffer.concat([bad, commandFrame(0x20, 0x02)]));
    expect(out[0]).toEqual({ ok: false, code: 'bad_checksum', message: 'checksum 0x23, computed 0x22', bytes: 10 });
    expect(frames(out)).toEqual(['2002']);
    expect(out).toHaveLength(2);
  });

  it('reports a LEN below the minimum or above the maximum as bad_length and resynchronises', () => {
    const p = new Ga467FrameParser({ minLength: 4, maxLength: 20 });
    const tooShort = h('AAAAAA9669 0003 2001 22');
    const tooLong = encodeFrame(Buffer.alloc(20));
    const good = replyFrame(0x90);
    const out = p.push(Buffer.concat([tooShort, tooLong, good]));
    expect(errors(out)).toEqual(['bad_length', 'bad_length']);
    expect(out[0]).toMatchObject({ message: 'LEN 3 outside 4..20' });
    expect(frames(out)).toEqual(['000090']);
  });

  it('recovers a frame swallowed by one whose LEN claims more bytes than it has', () => {
    const p = new Ga467FrameParser();
    const liar = h('AAAAAA9669 0010 2001'); // claims 16 bytes, the next frame follows at once
    const out = p.push(Buffer.concat([liar, commandFrame(0x20, 0x02), commandFrame(0x30, 0x01)]));
    expect(errors(out)).toEqual(['bad_checksum']);
    expect(frames(out)).toEqual(['2002', '3001']);
  });

  it('holds a partial frame, and reports it as truncated on flush', () => {
    const p = new Ga467FrameParser();
    const f = replyFrame(0x90, Buffer.alloc(16));
    expect(p.push(f.subarray(0, 12))).toEqual([]);
    expect(p.buffered()).toBe(12);
    expect(p.flush()).toEqual([{ ok: false, code: 'truncated', message: 'frame cut off after 12 bytes', bytes: 12 }]);
    expect(p.buffered()).toBe(0);
    expect(frames(p.push(commandFrame(0x20, 0x01)))).toEqual(['2001']);
  });

  it('reports a partial header as truncated on flush and trailing garbage as garbage', () => {
    const p = new Ga467FrameParser();
    expect(p.push(h('AAAAAA966900'))).toEqual([]);
    expect(errors(p.flush())).toEqual(['truncated']);
    expect(p.push(h('0102'))).toEqual([]);
    expect(p.flush()).toEqual([{ ok: false, code: 'garbage', message: '2 bytes before a preamble skipped', bytes: 2 }]);
    expect(p.flush()).toEqual([]);
  });

  it('recovers on flush a frame held behind a truncated one', () => {
    const p = new Ga467FrameParser();
    const cut = h('AAAAAA9669 0100 2001'); // claims 256 bytes
    expect(p.push(Buffer.concat([cut, commandFrame(0x20, 0x02)]))).toEqual([]);
    const out = p.flush();
    expect(errors(out)).toEqual(['truncated']);
    expect(frames(out)).toEqual(['2002']);
  });

  it('reset drops what is held without reporting it', () => {
    const p = new Ga467FrameParser();
    p.push(h('0102AAAAAA9669'));
    p.reset();
    expect(p.buffered()).toBe(0);
    expect(p.flush()).toEqual([]);
  });

  it('rejects options that make no sense with a TypeError', () => {
    expect(() => new Ga467FrameParser({ minLength: 0 })).toThrow(TypeError);
    expect(() => new Ga467FrameParser({ minLength: 1.5 })).toThrow(TypeError);
    expect(() => new Ga467FrameParser({ minLength: 10, maxLength: 5 })).toThrow(/maxLength/);
    expect(() => new Ga467FrameParser({ maxLength: 70000 })).toThrow(TypeError);
    expect(new Ga467FrameParser().maxBufferedBytes).toBe(7 + READ_REPLY_LEN);
  });
});

describe('GA 467 frame parser under fuzzing', () => {
  function randomFrame(r: () => number, maxBody = 60): Buffer {
    const n = 2 + Math.floor(r() * maxBody);
    return encodeFrame(Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256))));
  }

  function mutate(r: () => number, f: Buffer): Buffer {
    const b = Buffer.from(f);
    switch (Math.floor(r() * 6)) {
      case 0: // flip bits anywhere, the preamble and LEN included
        for (let k = 0; k < 1 + r() * 3; k++) b[Math.floor(r() * b.length)] ^= 1 << Math.floor(r() * 8);
        return b;
      case 1: // drop a byte
        return Buffer.concat([b.subarray(0, Math.floor(r() * b.length)), b.subarray(Math.floor(r() * b.length) + 1)]);
      case 2: // insert a byte
        return Buffer.concat([b.subarray(0, 3), Buffer.from([Math.floor(r() * 256)]), b.subarray(3)]);
      case 3: // truncate
        return b.subarray(0, Math.floor(r() * b.length));
      case 4: // random LEN, up to 65535
        b.writeUInt16BE(Math.floor(r() * 65536), 5);
        return b;
      default: // pure noise, preamble-rich
        return Buffer.from(Array.from({ length: Math.floor(r() * 40) }, () => (r() < 0.5 ? 0xaa : Math.floor(r() * 256))));
    }
  }

  it('takes 100,000 random and mutated frames without throwing or growing its buffer', () => {
    const r = rng(467);
    const p = new Ga467FrameParser({ minLength: 4 });
    let results = 0;
    let good = 0;
    let untouched = 0;
    let maxHeld = 0;
    const oddities: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const f = randomFrame(r);
      const intact = r() < 0.3;
      if (intact && f.length >= 11) untouched++;
      const input = intact ? f : mutate(r, f);
      // random chunking, the way a UART driver hands bytes over
      for (let at = 0; at < input.length; ) {
        const n = 1 + Math.floor(r() * 24);
        for (const o of p.push(input.subarray(at, at + n))) {
          results++;
          if (o.ok) good++;
          if (o.ok ? o.body.length < 3 : o.bytes <= 0) oddities.push(JSON.stringify(o));
        }
        maxHeld = Math.max(maxHeld, p.buffered());
        at += n;
      }
      if (i % 1000 === 999) p.flush();
    }
    expect(oddities).toEqual([]);
    expect(maxHeld).toBeLessThanOrEqual(p.maxBufferedBytes);
    expect(results).toBeGreaterThan(50_000);
    // frames that arrive intact are found again, even right behind a damaged one
    expect(good).toBeGreaterThanOrEqual(untouched * 0.95);
  });

  it('recovers every valid frame among faults that cannot be valid, counting each fault once', () => {
    const r = rng(2024);
    const p = new Ga467FrameParser();
    const sent: string[] = [];
    const got: string[] = [];
    let faults = 0;
    let errorCount = 0;
    const chunks: Buffer[] = [];
    for (let i = 0; i < 20_000; i++) {
      const f = randomFrame(r, r() < 0.05 ? 1200 : 40);
      const kind = r();
      if (kind < 0.7) {
        sent.push(f.subarray(7, f.length - 1).toString('hex'));
        chunks.push(f);
      } else if (kind < 0.85) {
        const bad = Buffer.from(f);
        bad[bad.length - 1] ^= 1 + Math.floor(r() * 255); // flipped checksum
        chunks.push(bad);
        faults++;
      } else {
        // a dropped byte after LEN: the frame then ends on the next preamble's first AA, so it
        // is invalid unless the dropped byte was itself AA: pick one that is not
        const candidates = [...f.keys()].filter((k) => k >= 7 && f[k] !== 0xaa);
        const k = candidates[Math.floor(r() * candidates.length)];
        chunks.push(Buffer.concat([f.subarray(0, k), f.subarray(k + 1)]));
        faults++;
      }
    }
    const stream = Buffer.concat(chunks);
    for (let at = 0; at < stream.length; ) {
      const n = 1 + Math.floor(r() * 300);
      for (const o of p.push(stream.subarray(at, at + n))) {
        if (o.ok) got.push(o.body.toString('hex'));
        else errorCount++;
      }
      expect(p.buffered()).toBeLessThanOrEqual(p.maxBufferedBytes);
      at += n;
    }
    for (const o of p.flush()) {
      if (o.ok) got.push(o.body.toString('hex'));
      else errorCount++;
    }
    expect(faults).toBeGreaterThan(5000);
    expect(got).toEqual(sent);
    expect(errorCount).toBe(faults);
  });

  it('never mistakes the preamble itself for anything but a frame start', () => {
    const p = new Ga467FrameParser();
    const out = p.push(Buffer.concat([PREAMBLE, PREAMBLE, commandFrame(0x20, 0x01)]));
    // the first two preambles read LEN AA AA (too long): each reported once, then the frame
    expect(errors(out)).toEqual(['bad_length', 'bad_length']);
    expect(frames(out)).toEqual(['2001']);
  });
});
