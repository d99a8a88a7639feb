import { describe, expect, it } from 'vitest';
import {
  ACK_FRAME,
  ERROR_FRAME,
  NACK_FRAME,
  Pn532FrameParser,
  decodeFrame,
  encodeCommand,
  encodeFrame,
  toHex,
} from '../../src/gate/hw/pn532-frame.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('PN532 frame encoding', () => {
  it('encodes GetFirmwareVersion as the datasheet bytes', () => {
    expect(toHex(encodeCommand(0x02), ' ')).toBe('00 00 FF 02 FE D4 02 2A 00');
  });

  it('encodes InListPassiveTarget for one ISO14443A target', () => {
    expect(toHex(encodeCommand(0x4a, [0x01, 0x00]), ' ')).toBe('00 00 FF 04 FC D4 4A 01 00 E1 00');
  });

  it('encodes SAMConfiguration normal mode with LEN+LCS and TFI+PD+DCS summing to zero', () => {
    const f = encodeCommand(0x14, [0x01, 0x14, 0x01]);
    expect(toHex(f, ' ')).toBe('00 00 FF 05 FB D4 14 01 14 01 02 00');
    expect((f[3] + f[4]) & 0xff).toBe(0);
    expect(f.subarray(5, f.length - 1).reduce((a, b) => a + b, 0) & 0xff).toBe(0);
  });

  it('switches to an extended frame above 254 bytes of TFI and data', () => {
    const f = encodeFrame(0xd5, Buffer.alloc(300, 0x11));
    expect(toHex(f.subarray(0, 8), ' ')).toBe('00 00 FF FF FF 01 2D D2');
    expect(decodeFrame(f, { maxLength: 400 })).toEqual({ type: 'data', tfi: 0xd5, data: Buffer.alloc(300, 0x11) });
  });

  it('refuses a frame longer than 65535 bytes', () => {
    expect(() => encodeFrame(0xd4, Buffer.alloc(0x10000))).toThrow(RangeError);
  });
});

describe('PN532 frame decoding, one frame at a time', () => {
  it('reads the ACK, NACK and application error frames', () => {
    expect(toHex(ACK_FRAME, ' ')).toBe('00 00 FF 00 FF 00');
    expect(decodeFrame(ACK_FRAME)).toEqual({ type: 'ack' });
    expect(decodeFrame(NACK_FRAME)).toEqual({ type: 'nack' });
    expect(decodeFrame(ERROR_FRAME)).toEqual({ type: 'error' });
    expect(decodeFrame(hex('00 00 FF 01 FF 7F 81 00'))).toEqual({ type: 'error' });
  });

  it('reads a firmware version response', () => {
    expect(decodeFrame(hex('00 00 FF 06 FA D5 03 32 01 06 07 E8 00'))).toEqual({ type: 'data', tfi: 0xd5, data: hex('03 32 01 06 07') });
  });

  it('accepts a frame without the leading preamble byte and with zero padding after it', () => {
    expect(decodeFrame(hex('00 FF 02 FE D5 15 16 00 00 00 00'))).toEqual({ type: 'data', tfi: 0xd5, data: hex('15') });
  });

  it('accepts an extended frame that could have been a normal one', () => {
    expect(decodeFrame(hex('00 00 FF FF FF 00 02 FE D5 15 16 00'))).toEqual({ type: 'data', tfi: 0xd5, data: hex('15') });
  });

  const bad: [string, string, string][] = [
    ['a wrong length checksum', '00 00 FF 06 FB D5 03 32 01 06 07 E8 00', 'lcs'],
    ['a wrong data checksum', '00 00 FF 06 FA D5 03 32 01 06 07 E9 00', 'dcs'],
    ['a missing postamble', '00 00 FF 06 FA D5 03 32 01 06 07 E8 01', 'postamble'],
    ['an ACK without postamble', '00 00 FF 00 FF 55', 'postamble'],
    ['a NACK without postamble', '00 00 FF FF 00 55', 'postamble'],
    ['a wrong extended length checksum', '00 00 FF FF FF 00 02 FF D5 15 16 00', 'lcs'],
    ['a frame announcing no TFI', '00 00 FF FF FF 00 00 00 00 00', 'length'],
    ['an unknown frame identifier', '00 00 FF 02 FE D6 15 15 00', 'tfi'],
    ['an error frame with data', '00 00 FF 02 FE 7F 01 80 00', 'tfi'],
    ['bytes before the start code', '12 34 00 00 FF 00 FF 00', 'garbage'],
    ['a frame cut off', '00 00 FF 06 FA D5 03 32', 'truncated'],
  ];
  for (const [what, bytes, code] of bad) {
    it(`reports ${what} as ${code}`, () => {
      expect(decodeFrame(hex(bytes))).toMatchObject({ type: 'bad', code });
    });
  }

  it('reports only zero bytes as a missing frame', () => {
    expect(decodeFrame(Buffer.alloc(8))).toMatchObject({ type: 'bad', code: 'truncated' });
  });

  it('reports a frame longer than the accepted maximum without waiting for its bytes', () => {
    expect(decodeFrame(hex('00 00 FF FF FF 01 2D D2'), { maxLength: 265 })).toMatchObject({ type: 'bad', code: 'too_long' });
  });
});

describe('PN532 streaming parser', () => {
  it('rejects a bad maxLength with a TypeError', () => {
    expect(() => new Pn532FrameParser({ maxLength: 0 })).toThrow(TypeError);
    expect(() => new Pn532FrameParser({ maxLength: 70000 })).toThrow(TypeError);
    expect(() => new Pn532FrameParser({ maxLength: 2.5 })).toThrow(TypeError);
  });

  it('puts a frame together from one byte at a time', () => {
    const p = new Pn532FrameParser();
    const bytes = Buffer.concat([ACK_FRAME, encodeFrame(0xd5, hex('4B 00')), ERROR_FRAME]);
    const out = [];
    for (const b of bytes) out.push(...p.feed(Buffer.from([b])));
    expect(out).toEqual([{ type: 'ack' }, { type: 'data', tfi: 0xd5, data: hex('4B 00') }, { type: 'error' }]);
    expect(p.buffered).toBeLessThanOrEqual(1);
    expect(p.stats().frames).toBe(3);
  });

  it('finds the next frame inside the bytes a corrupt header announced', () => {
    // LEN 0x10 with a matching LCS but only 3 bytes follow before the next frame: the parser must not skip it.
    const p = new Pn532FrameParser();
    const corrupt = hex('00 00 FF 10 F0 D5 01 02');
    const next = encodeFrame(0xd5, hex('03 32 01 06 07'));
    const out = [...p.feed(Buffer.concat([corrupt, next, Buffer.alloc(16)]))];
    expect(out.filter((r) => r.type === 'bad')).toHaveLength(1);
    expect(out.filter((r) => r.type === 'data')).toEqual([{ type: 'data', tfi: 0xd5, data: hex('03 32 01 06 07') }]);
  });

  it('reports a run of garbage once and counts the skipped bytes', () => {
    const p = new Pn532FrameParser();
    const out = [...p.feed(Buffer.alloc(5000, 0x5a)), ...p.feed(ACK_FRAME)];
    expect(out).toEqual([expect.objectContaining({ type: 'bad', code: 'garbage' }), { type: 'ack' }]);
    expect(p.stats().skippedBytes).toBe(5000);
    expect(p.stats().errors.garbage).toBe(1);
  });

  it('keeps only an announced frame buffered and forgets it on reset', () => {
    const p = new Pn532FrameParser({ maxLength: 20 });
    expect(p.feed(hex('00 00 FF 10 F0 D5 01'))).toEqual([]);
    expect(p.buffered).toBe(6); // from the start code; the padding 00 before it is dropped
    expect(p.maxBuffered).toBe(30);
    p.reset();
    expect(p.buffered).toBe(0);
    expect(p.feed(ACK_FRAME)).toEqual([{ type: 'ack' }]);
  });

  it('reports a half-received frame at the end of the stream', () => {
    const p = new Pn532FrameParser();
    p.feed(hex('00 00 FF 06 FA D5 03'));
    expect(p.end()).toEqual([expect.objectContaining({ code: 'truncated' })]);
    expect(p.end()).toEqual([]);
    expect(p.buffered).toBe(0);
  });
});
