/**
 * GA 467 frames, as a resident ID card SAM and its host exchange them:
 *
 *   AA AA AA 96 69 | LEN (2, big-endian) | body | CHK
 *
 * body is CMD PARA DATA (host → SAM) or SW1 SW2 SW3 DATA (SAM → host); LEN counts body + CHK;
 * CHK is the XOR of the LEN bytes and the body.
 */
export const PREAMBLE = Buffer.from([0xaa, 0xaa, 0xaa, 0x96, 0x69]);
/** Preamble plus LEN. */
export const HEADER_BYTES = 7;
/** LEN of the read reply: SW (3) + text length (2) + photo length (2) + text (256) + photo (1024) + CHK. */
export const READ_REPLY_LEN = 1288;

/** XOR of buf[start..end). */
export function xorChecksum(buf: Uint8Array, start = 0, end = buf.length): number {
  let x = 0;
  for (let i = start; i < end; i++) x ^= buf[i];
  return x;
}

/** Wraps a body (CMD PARA DATA or SW1 SW2 SW3 DATA) into a frame. */
export function encodeFrame(body: Uint8Array | readonly number[]): Buffer {
  const len = body.length + 1;
  if (len > 0xffff) throw new RangeError(`a GA 467 frame body holds at most 65534 bytes, not ${body.length}`);
  const out = Buffer.alloc(HEADER_BYTES + len);
  PREAMBLE.copy(out, 0);
  out.writeUInt16BE(len, 5);
  out.set(body, HEADER_BYTES);
  out[out.length - 1] = xorChecksum(out, 5, out.length - 1);
  return out;
}

/** A host → SAM command frame. */
export function commandFrame(cmd: number, para: number, data: Uint8Array = Buffer.alloc(0)): Buffer {
  return encodeFrame(Buffer.concat([Buffer.from([cmd, para]), data]));
}

/** A SAM → host reply frame. */
export function replyFrame(sw3: number, data: Uint8Array = Buffer.alloc(0), sw1 = 0, sw2 = 0): Buffer {
  return encodeFrame(Buffer.concat([Buffer.from([sw1, sw2, sw3]), data]));
}

/** A well-formed frame: its body, without preamble, LEN and CHK. */
export interface Ga467Frame {
  ok: true;
  body: Buffer;
}

export type Ga467FrameErrorCode = 'bad_checksum' | 'bad_length' | 'garbage' | 'truncated';

/** Something on the line that is not a frame. `bytes` is how many bytes it concerns. */
export interface Ga467FrameError {
  ok: false;
  code: Ga467FrameErrorCode;
  message: string;
  bytes: number;
}

export type Ga467ParseResult = Ga467Frame | Ga467FrameError;

export interface Ga467FrameParserOptions {
  /**
   * Smallest LEN accepted. 3 for commands (CMD PARA CHK), 4 for replies (SW1 SW2 SW3 CHK).
   * Default 3.
   */
  minLength?: number;
  /**
   * Largest LEN accepted; a frame may not be longer, and no buffer grows past
   * HEADER_BYTES + maxLength. Default READ_REPLY_LEN (1288), the longest reply a SAM sends.
   */
  maxLength?: number;
}

/**
 * Byte stream in, frames and typed errors out. Bytes before a preamble are skipped and reported
 * once per run as `garbage`. A frame with a bad LEN or checksum is reported once, and the search
 * for the next preamble restarts one byte after the bad frame's preamble, so a frame swallowed
 * by a corrupted one (a dropped byte, a wrong LEN) is still found; the bytes skipped on the way
 * belong to the reported error and are not reported again.
 */
export class Ga467FrameParser {
  readonly minLength: number;
  readonly maxLength: number;
  private buf: Buffer = Buffer.alloc(0);
  private garbageRun = 0;
  /** Bytes skipped right after a bad frame belong to its error. */
  private afterError = false;

  constructor(options: Ga467FrameParserOptions = {}) {
    const minLength = options.minLength ?? 3;
    const maxLength = options.maxLength ?? READ_REPLY_LEN;
    if (!Number.isInteger(minLength) || minLength < 1) {
      throw new TypeError(`minLength must be an integer ≥ 1, got ${minLength}`);
    }
    if (!Number.isInteger(maxLength) || maxLength < minLength || maxLength > 0xffff) {
      throw new TypeError(`maxLength must be an integer between minLength and 65535, got ${maxLength}`);
    }
    this.minLength = minLength;
    this.maxLength = maxLength;
  }

  /** The most bytes the parser ever holds between pushes. */
  get maxBufferedBytes(): number {
    return HEADER_BYTES + this.maxLength;
  }

  /** Bytes held now (a partial frame or the start of a preamble). */
  buffered(): number {
    return this.buf.length;
  }

  push(chunk: Uint8Array): Ga467ParseResult[] {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    return this.drain(false);
  }

  /**
   * The line went quiet (a reply timed out, the port closed): a partial frame is reported as
   * `truncated`, frames it may have swallowed are recovered, and the parser starts empty.
   */
  flush(): Ga467ParseResult[] {
    return this.drain(true);
  }

  /** Drops everything held, reporting nothing. */
  reset(): void {
    this.buf = Buffer.alloc(0);
    this.garbageRun = 0;
    this.afterError = false;
  }

  private drain(final: boolean): Ga467ParseResult[] {
    const out: Ga467ParseResult[] = [];
    const buf = this.buf;
    let pos = 0;
    for (;;) {
      const idx = buf.indexOf(PREAMBLE, pos);
      if (idx < 0) {
        const keep = final ? buf.length : preambleTail(buf, pos);
        this.skip(keep - pos);
        this.buf = Buffer.from(buf.subarray(keep));
        if (final) this.endGarbageRun(out);
        return out;
      }
      this.skip(idx - pos);
      this.endGarbageRun(out);
      if (buf.length - idx >= HEADER_BYTES) {
        const len = buf.readUInt16BE(idx + 5);
        if (len < this.minLength || len > this.maxLength) {
          out.push(this.error('bad_length', `LEN ${len} outside ${this.minLength}..${this.maxLength}`, HEADER_BYTES));
          pos = idx + 1;
          continue;
        }
        const end = idx + HEADER_BYTES + len;
        if (buf.length >= end) {
          const chk = xorChecksum(buf, idx + 5, end - 1);
          if (chk !== buf[end - 1]) {
            out.push(this.error('bad_checksum', `checksum ${hex(buf[end - 1])}, computed ${hex(chk)}`, end - idx));
            pos = idx + 1;
            continue;
          }
          out.push({ ok: true, body: Buffer.from(buf.subarray(idx + HEADER_BYTES, end - 1)) });
          this.afterError = false;
          pos = end;
          continue;
        }
      }
      if (final) {
        out.push(this.error('truncated', `frame cut off after ${buf.length - idx} bytes`, buf.length - idx));
        pos = idx + 1;
        continue;
      }
      this.buf = Buffer.from(buf.subarray(idx));
      return out;
    }
  }

  private skip(n: number): void {
    if (n > 0 && !this.afterError) this.garbageRun += n;
  }

  private endGarbageRun(out: Ga467ParseResult[]): void {
    if (this.garbageRun > 0) {
      out.push({ ok: false, code: 'garbage', message: `${this.garbageRun} bytes before a preamble skipped`, bytes: this.garbageRun });
    }
    this.garbageRun = 0;
    this.afterError = false;
  }

  private error(code: Ga467FrameErrorCode, message: string, bytes: number): Ga467FrameError {
    this.afterError = true;
    return { ok: false, code, message, bytes };
  }
}

/** Index from which buf's tail could be the start of a preamble (buf.length if it cannot). */
function preambleTail(buf: Buffer, from: number): number {
  for (let k = Math.max(from, buf.length - (PREAMBLE.length - 1)); k < buf.length; k++) {
    if (buf.subarray(k).equals(PREAMBLE.subarray(0, buf.length - k))) return k;
  }
  return buf.length;
}

export function hex(byte: number): string {
  return '0x' + byte.toString(16).padStart(2, '0').toUpperCase();
}
