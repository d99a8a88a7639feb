/**
 * PN532 frames, pure: bytes in, frames or typed errors out. No bus here.
 *
 * Normal frame   00 00 FF LEN LCS TFI PD… DCS 00     LEN = count of TFI+PD, LEN+LCS ≡ 0, TFI+PD+DCS ≡ 0 (mod 256)
 * Extended frame 00 00 FF FF FF LENM LENL LCS TFI PD… DCS 00     LENM+LENL+LCS ≡ 0
 * ACK            00 00 FF 00 FF 00
 * NACK           00 00 FF FF 00 00
 * Error frame    00 00 FF 01 FF 7F 81 00   (application-level error, e.g. a command the chip rejects)
 * TFI is D4 host→chip and D5 chip→host. The leading 00 (preamble) and any zero padding before the
 * start code `00 FF` are skipped; the frame's own trailing 00 (postamble) is required.
 */
export const TFI_HOST = 0xd4;
export const TFI_CHIP = 0xd5;
export const TFI_ERROR = 0x7f;

export const ACK_FRAME: Buffer = Buffer.from([0x00, 0x00, 0xff, 0x00, 0xff, 0x00]);
export const NACK_FRAME: Buffer = Buffer.from([0x00, 0x00, 0xff, 0xff, 0x00, 0x00]);
export const ERROR_FRAME: Buffer = Buffer.from([0x00, 0x00, 0xff, 0x01, 0xff, 0x7f, 0x81, 0x00]);

/** TFI+PD bytes of a normal frame at most (LEN is one byte and FF marks NACK or extended). */
export const MAX_NORMAL_LENGTH = 254;
/** The PN532's frame buffer holds 265 bytes: TFI+PD of an extended frame from the chip never exceeds this. */
export const DEFAULT_MAX_LENGTH = 265;

export type Pn532Frame =
  | { type: 'ack' }
  | { type: 'nack' }
  | { type: 'error' }
  | { type: 'data'; tfi: typeof TFI_HOST | typeof TFI_CHIP; data: Buffer };

export type Pn532FrameErrorCode = 'garbage' | 'lcs' | 'length' | 'too_long' | 'dcs' | 'postamble' | 'tfi' | 'truncated';

export interface Pn532FrameError {
  type: 'bad';
  code: Pn532FrameErrorCode;
  message: string;
}

export type Pn532FrameResult = Pn532Frame | Pn532FrameError;

function sum(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += bytes[i];
  return s & 0xff;
}

/** One frame: TFI then PD. A TFI+PD longer than 254 bytes gets an extended frame. */
export function encodeFrame(tfi: number, data: Uint8Array): Buffer {
  const len = data.length + 1;
  if (len > 0xffff) throw new RangeError(`PN532 frame too long: ${len} bytes of TFI+PD`);
  const body = Buffer.alloc(len);
  body[0] = tfi;
  body.set(data, 1);
  const dcs = (0x100 - sum(body)) & 0xff;
  const head =
    len <= MAX_NORMAL_LENGTH
      ? Buffer.from([0x00, 0x00, 0xff, len, (0x100 - len) & 0xff])
      : Buffer.from([0x00, 0x00, 0xff, 0xff, 0xff, len >> 8, len & 0xff, (0x100 - ((len >> 8) + (len & 0xff))) & 0xff]);
  return Buffer.concat([head, body, Buffer.from([dcs, 0x00])]);
}

/** A host→chip command frame: D4 CMD PARAMS…. */
export function encodeCommand(command: number, params: Uint8Array | readonly number[] = []): Buffer {
  return encodeFrame(TFI_HOST, Uint8Array.from([command, ...params]));
}

export interface Pn532FrameParserOptions {
  /** Largest TFI+PD accepted; a frame announcing more is reported `too_long` and skipped. Default 265, at most 65535. */
  maxLength?: number;
}

export interface Pn532FrameParserStats {
  frames: number;
  errors: Record<Pn532FrameErrorCode, number>;
  /** Bytes skipped while looking for a start code (garbage and the remains of bad frames). */
  skippedBytes: number;
}

/**
 * Streaming parser. Bytes arrive in chunks of any size; `feed()` returns what they completed.
 *
 * Resynchronisation: after a bad frame the parser resumes scanning one byte past that frame's
 * start code, never past the length the bad header announced, so a dropped byte cannot swallow the
 * next frame. One error is reported per corrupt run: whatever fails while the parser is still
 * looking for its next good frame belongs to the same fault and is only counted as skipped bytes.
 *
 * Bound: between calls at most one unfinished frame (8 + maxLength + 2 bytes) stays buffered.
 */
export class Pn532FrameParser {
  readonly maxLength: number;
  private buf: Buffer = Buffer.alloc(0);
  private inSync = true;
  private readonly counts: Pn532FrameParserStats = {
    frames: 0,
    errors: { garbage: 0, lcs: 0, length: 0, too_long: 0, dcs: 0, postamble: 0, tfi: 0, truncated: 0 },
    skippedBytes: 0,
  };

  constructor(options: Pn532FrameParserOptions = {}) {
    const max = options.maxLength ?? DEFAULT_MAX_LENGTH;
    if (!Number.isInteger(max) || max < 1 || max > 0xffff) throw new TypeError('Pn532FrameParser: maxLength must be an integer from 1 to 65535');
    this.maxLength = max;
  }

  /** Bytes held for an unfinished frame. */
  get buffered(): number {
    return this.buf.length;
  }

  /** Most bytes ever held between calls. */
  get maxBuffered(): number {
    return 8 + this.maxLength + 2;
  }

  stats(): Pn532FrameParserStats {
    return { frames: this.counts.frames, errors: { ...this.counts.errors }, skippedBytes: this.counts.skippedBytes };
  }

  /** Forgets a half-received frame (a new bus read starts a new frame). */
  reset(): void {
    this.buf = Buffer.alloc(0);
    this.inSync = true;
  }

  feed(chunk: Uint8Array): Pn532FrameResult[] {
    const buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    const out: Pn532FrameResult[] = [];
    let pos = 0;
    for (;;) {
      const start = this.findStart(buf, pos, out);
      if (start.kind === 'more') {
        pos = start.keepFrom;
        break;
      }
      const step = this.parseAt(buf, start.at);
      if (step.kind === 'more') {
        pos = start.at;
        break;
      }
      if (step.kind === 'frame') {
        this.counts.frames++;
        this.inSync = true;
        out.push(step.frame);
        pos = step.end;
      } else {
        this.fail(out, step.code, step.message);
        this.counts.skippedBytes += 2; // the bad frame's start code; its body is rescanned
        pos = start.at + 2;
      }
    }
    this.buf = Buffer.from(buf.subarray(pos));
    return out;
  }

  /** End of stream: a frame still half-received is reported `truncated` and dropped. */
  end(): Pn532FrameResult[] {
    const out: Pn532FrameResult[] = [];
    const pending = this.buf;
    this.buf = Buffer.alloc(0);
    if (pending.some((b) => b !== 0)) this.fail(out, 'truncated', `PN532 frame cut off after ${pending.length} bytes`);
    this.inSync = true;
    return out;
  }

  private fail(out: Pn532FrameResult[], code: Pn532FrameErrorCode, message: string): void {
    if (!this.inSync) return;
    this.inSync = false;
    this.counts.errors[code]++;
    out.push({ type: 'bad', code, message });
  }

  /** Index of the next start code `00 FF` (at = index of its 00), skipping zero padding and garbage. */
  private findStart(buf: Buffer, from: number, out: Pn532FrameResult[]): { kind: 'found'; at: number } | { kind: 'more'; keepFrom: number } {
    for (let i = from; i < buf.length; i++) {
      const b = buf[i];
      if (b === 0x00) {
        if (i + 1 >= buf.length) return { kind: 'more', keepFrom: i };
        if (buf[i + 1] === 0xff) return { kind: 'found', at: i };
        continue;
      }
      this.counts.skippedBytes++;
      this.fail(out, 'garbage', `byte 0x${hex2(b)} outside a PN532 frame`);
    }
    return { kind: 'more', keepFrom: buf.length };
  }

  private parseAt(
    buf: Buffer,
    at: number,
  ): { kind: 'more' } | { kind: 'frame'; frame: Pn532Frame; end: number } | { kind: 'bad'; code: Pn532FrameErrorCode; message: string } {
    const have = buf.length - at;
    if (have < 4) return { kind: 'more' };
    const len = buf[at + 2];
    const lcs = buf[at + 3];
    if ((len === 0x00 && lcs === 0xff) || (len === 0xff && lcs === 0x00)) {
      if (have < 5) return { kind: 'more' };
      if (buf[at + 4] !== 0x00) return bad('postamble', `${len === 0 ? 'ACK' : 'NACK'} frame without its 00 postamble`);
      return { kind: 'frame', frame: { type: len === 0 ? 'ack' : 'nack' }, end: at + 5 };
    }
    let length: number;
    let bodyAt: number;
    if (len === 0xff && lcs === 0xff) {
      if (have < 7) return { kind: 'more' };
      const m = buf[at + 4];
      const l = buf[at + 5];
      if (((m + l + buf[at + 6]) & 0xff) !== 0) return bad('lcs', `extended frame length checksum wrong (LENM 0x${hex2(m)}, LENL 0x${hex2(l)}, LCS 0x${hex2(buf[at + 6])})`);
      length = (m << 8) | l;
      bodyAt = at + 7;
    } else {
      if (((len + lcs) & 0xff) !== 0) return bad('lcs', `length checksum wrong (LEN 0x${hex2(len)}, LCS 0x${hex2(lcs)})`);
      length = len;
      bodyAt = at + 4;
    }
    if (length === 0) return bad('length', 'frame announces no TFI byte');
    if (length > this.maxLength) return bad('too_long', `frame announces ${length} bytes, more than the ${this.maxLength} accepted`);
    const end = bodyAt + length + 2;
    if (buf.length < end) return { kind: 'more' };
    const dcs = buf[bodyAt + length];
    if (((sum(buf, bodyAt, bodyAt + length) + dcs) & 0xff) !== 0) return bad('dcs', `data checksum wrong (DCS 0x${hex2(dcs)})`);
    if (buf[end - 1] !== 0x00) return bad('postamble', `frame without its 00 postamble (got 0x${hex2(buf[end - 1])})`);
    const tfi = buf[bodyAt];
    if (tfi === TFI_ERROR) {
      if (length !== 1) return bad('tfi', `error frame (TFI 7F) with ${length - 1} unexpected data bytes`);
      return { kind: 'frame', frame: { type: 'error' }, end };
    }
    if (tfi !== TFI_HOST && tfi !== TFI_CHIP) return bad('tfi', `unknown frame identifier 0x${hex2(tfi)} (expected D4 or D5)`);
    return { kind: 'frame', frame: { type: 'data', tfi, data: Buffer.from(buf.subarray(bodyAt + 1, bodyAt + length)) }, end };
  }
}

function bad(code: Pn532FrameErrorCode, message: string): { kind: 'bad'; code: Pn532FrameErrorCode; message: string } {
  return { kind: 'bad', code, message: `PN532 ${message}` };
}

/** Parses exactly one frame from bytes read off the bus (trailing zero padding allowed). */
export function decodeFrame(bytes: Uint8Array, options?: Pn532FrameParserOptions): Pn532FrameResult {
  const p = new Pn532FrameParser(options);
  const results = [...p.feed(bytes), ...p.end()];
  return results[0] ?? { type: 'bad', code: 'truncated', message: 'PN532 frame missing: only zero bytes read' };
}

export function hex2(b: number): string {
  return b.toString(16).padStart(2, '0').toUpperCase();
}

export function toHex(bytes: Uint8Array, sep = ''): string {
  return Array.from(bytes, hex2).join(sep);
}
