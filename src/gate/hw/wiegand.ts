/**
 * Wiegand protocol, pure: pulses in, frames or typed errors out. No GPIO here; a transport feeds
 * it the falling edges of D0 (a 0 bit) and D1 (a 1 bit) with their timestamps.
 *
 * On the wire (DESIGN.md): D0/D1 idle high, pulses 20-100 µs, gaps 200 µs-20 ms, a frame ends
 * after ~25 ms of silence.
 *   26-bit: bit 1 even parity over bits 2-13, 8-bit facility (2-9), 16-bit card (10-25), bit 26
 *           odd parity over 14-25.
 *   34-bit: bit 1 even parity over bits 2-17, 32 data bits (2-33), bit 34 odd parity over 18-33.
 * (1-based as in DESIGN.md; arrays below are 0-based.)
 */
export type Bit = 0 | 1;

export interface WiegandDecoderOptions {
  /** Silence that ends a frame, ms. Default 25. */
  frameGapMs?: number;
  /** Pulses closer than this (µs, falling edge to falling edge, either line) mark the frame as noise. Default 100. */
  minPulseIntervalUs?: number;
  /** Frames shorter than this are reported as noise rather than a bad bit count. Default 4. */
  minFrameBits?: number;
  /** Bits buffered at most; a longer burst without silence is reported once and dropped until silence. Default 64. */
  maxBits?: number;
}

export interface WiegandFrame {
  ok: true;
  bits: 26 | 34;
  /** 26-bit only: the 8-bit facility code. */
  facility?: number;
  /** 26-bit: the 16-bit card number; 34-bit: the 32-bit number (the card UID on most readers). */
  card: number;
  /** All data bits (parity bits stripped) as one number: 24 bits for 26-bit, 32 for 34-bit. */
  value: number;
  /** The frame's bits as a string of 0 and 1, parity included. */
  raw: string;
  /** Timestamp of the first pulse. */
  startNs: bigint;
}

export type WiegandErrorCode = 'parity' | 'bit_count' | 'noise';

export interface WiegandError {
  ok: false;
  code: WiegandErrorCode;
  message: string;
  /** Bits received in the frame (for a flood: bits when it was cut). */
  bits: number;
  raw: string;
  /** parity only: which parity bit failed. */
  parity?: 'even' | 'odd' | 'both';
  startNs: bigint | null;
}

export type WiegandResult = WiegandFrame | WiegandError;

const DEFAULTS = { frameGapMs: 25, minPulseIntervalUs: 100, minFrameBits: 4, maxBits: 64 } as const;

export class WiegandDecoder {
  private readonly frameGapNs: bigint;
  private readonly minIntervalNs: bigint;
  private readonly minFrameBits: number;
  private readonly maxBits: number;

  private bits: Bit[] = [];
  private startNs: bigint | null = null;
  private lastNs: bigint | null = null;
  private noisy = false;
  /** A flood was cut and reported: pulses are dropped until the next silence. */
  private discarding = false;

  constructor(options: WiegandDecoderOptions = {}) {
    const o = { ...DEFAULTS, ...options };
    if (!(o.frameGapMs > 0) || !Number.isFinite(o.frameGapMs)) throw new TypeError('WiegandDecoder: frameGapMs must be a positive number');
    if (!(o.minPulseIntervalUs >= 0)) throw new TypeError('WiegandDecoder: minPulseIntervalUs must be >= 0');
    if (!Number.isInteger(o.minFrameBits) || o.minFrameBits < 1) throw new TypeError('WiegandDecoder: minFrameBits must be a positive integer');
    if (!Number.isInteger(o.maxBits) || o.maxBits < 34) throw new TypeError('WiegandDecoder: maxBits must be an integer >= 34');
    this.frameGapNs = BigInt(Math.round(o.frameGapMs * 1e6));
    this.minIntervalNs = BigInt(Math.round(o.minPulseIntervalUs * 1e3));
    this.minFrameBits = o.minFrameBits;
    this.maxBits = o.maxBits;
  }

  /** Bits waiting in the current frame. */
  get pending(): number {
    return this.bits.length;
  }

  /**
   * One pulse (falling edge) on D0 (`line` 0) or D1 (`line` 1). Returns a result when this pulse
   * shows the previous frame had ended (silence since it ≥ the frame gap) or when it overflows the buffer.
   */
  feed(line: Bit, tsNs: bigint): WiegandResult | null {
    let ended: WiegandResult | null = null;
    if (this.lastNs !== null && tsNs - this.lastNs >= this.frameGapNs) ended = this.endOfFrame();

    if (this.lastNs !== null && tsNs - this.lastNs < this.minIntervalNs) this.noisy = true;
    this.lastNs = tsNs;
    if (this.discarding) return ended;
    this.startNs ??= tsNs;
    this.bits.push(line);
    if (this.bits.length <= this.maxBits) return ended;

    // Without silence a stuck or noisy line would grow the buffer forever: cut and report once.
    const flood: WiegandError = {
      ok: false,
      code: 'bit_count',
      message: `more than ${this.maxBits} Wiegand bits without a ${Number(this.frameGapNs) / 1e6} ms pause; dropping pulses until the lines go quiet`,
      bits: this.bits.length,
      raw: this.bits.join(''),
      startNs: this.startNs,
    };
    this.bits = [];
    this.startNs = null;
    this.discarding = true;
    return flood;
  }

  /** Ends the frame if the silence since the last pulse has reached the frame gap at `nowNs`. */
  flush(nowNs: bigint): WiegandResult | null {
    if (this.lastNs === null || nowNs - this.lastNs < this.frameGapNs) return null;
    return this.endOfFrame();
  }

  /** Ends the frame now (the caller measured the silence) and decodes it. */
  endOfFrame(): WiegandResult | null {
    const bits = this.bits;
    const startNs = this.startNs;
    const noisy = this.noisy;
    this.bits = [];
    this.startNs = null;
    this.lastNs = null;
    this.noisy = false;
    this.discarding = false;
    if (bits.length === 0) return null;
    const raw = bits.join('');
    if (noisy) {
      return { ok: false, code: 'noise', message: `Wiegand frame of ${bits.length} bits had pulses closer than the minimum interval (noise on D0/D1?)`, bits: bits.length, raw, startNs };
    }
    if (bits.length < this.minFrameBits) {
      return { ok: false, code: 'noise', message: `Wiegand burst of only ${bits.length} bit(s): a glitch on D0/D1, not a frame`, bits: bits.length, raw, startNs };
    }
    return decodeWiegandBits(bits, startNs ?? 0n);
  }
}

/** Decodes one complete frame of bits (26 or 34). */
export function decodeWiegandBits(bits: readonly Bit[], startNs = 0n): WiegandResult {
  const raw = bits.join('');
  const half = bits.length === 26 ? 13 : bits.length === 34 ? 17 : 0;
  if (half === 0) {
    return { ok: false, code: 'bit_count', message: `Wiegand frame of ${bits.length} bits; only 26 and 34 are understood`, bits: bits.length, raw, startNs };
  }
  const evenOk = ones(bits, 0, half) % 2 === 0;
  const oddOk = ones(bits, half, bits.length) % 2 === 1;
  if (!evenOk || !oddOk) {
    const parity = !evenOk && !oddOk ? 'both' : !evenOk ? 'even' : 'odd';
    return { ok: false, code: 'parity', message: `Wiegand ${bits.length}-bit frame failed its ${parity} parity (bad read or wiring)`, bits: bits.length, raw, parity, startNs };
  }
  const value = toNumber(bits, 1, bits.length - 1);
  if (bits.length === 26) {
    return { ok: true, bits: 26, facility: toNumber(bits, 1, 9), card: toNumber(bits, 9, 25), value, raw, startNs };
  }
  return { ok: true, bits: 34, card: value, value, raw, startNs };
}

/** 26-bit frame for facility 0-255 and card 0-65535, parity included. */
export function encodeWiegand26(facility: number, card: number): Bit[] {
  checkRange('facility', facility, 0xff);
  checkRange('card', card, 0xffff);
  return withParity([...toBits(facility, 8), ...toBits(card, 16)]);
}

/** 34-bit frame for a 32-bit value, parity included. */
export function encodeWiegand34(value: number): Bit[] {
  checkRange('value', value, 0xffffffff);
  return withParity(toBits(value, 32));
}

function withParity(data: Bit[]): Bit[] {
  const half = data.length / 2;
  const even = (ones(data, 0, half) % 2) as Bit;
  const odd = (1 - (ones(data, half, data.length) % 2)) as Bit;
  return [even, ...data, odd];
}

function ones(bits: readonly Bit[], from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n += bits[i];
  return n;
}

function toNumber(bits: readonly Bit[], from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 2 + bits[i];
  return n;
}

function toBits(value: number, width: number): Bit[] {
  return Array.from({ length: width }, (_, i) => (Math.floor(value / 2 ** (width - 1 - i)) % 2) as Bit);
}

function checkRange(what: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`Wiegand ${what} ${v} is outside 0-${max}`);
}
