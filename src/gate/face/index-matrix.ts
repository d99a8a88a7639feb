// Contiguous template storage for the 1:N index: one int8 row (per-row scale) per template for the
// coarse scan, and the original float row for the re-rank. The int8 rows live in the SIMD kernel's
// WebAssembly memory when it is available, else in a plain ArrayBuffer scanned by the JS loop.
// Memory layout: [query 128 B][templates cap×128 B][scales cap×4 B][scores cap×4 B].
import { DIM, type SimdKernelInstance } from './index-simd-kernel.js';

const PAGE = 65536;

export type KernelKind = 'simd' | 'js';

export class TemplateMatrix {
  readonly kernel: KernelKind;
  private buffer: ArrayBuffer;
  private cap = 0;
  private int8!: Int8Array;
  private scales!: Float32Array;
  private out!: Float32Array;
  private floats = new Float32Array(0);
  rows = 0;

  constructor(private readonly simd: SimdKernelInstance | null) {
    this.kernel = simd ? 'simd' : 'js';
    this.buffer = simd ? simd.memory.buffer : new ArrayBuffer(DIM);
    this.views();
  }

  get capacity(): number {
    return this.cap;
  }

  private get tOff() { return DIM; }
  private get sOff() { return DIM + this.cap * DIM; }
  private get oOff() { return DIM + this.cap * DIM + this.cap * 4; }

  private views(): void {
    this.int8 = new Int8Array(this.buffer, 0, DIM + this.cap * DIM);
    this.scales = new Float32Array(this.buffer, this.sOff, this.cap);
    this.out = new Float32Array(this.buffer, this.oOff, this.cap);
  }

  ensureCapacity(rows: number): void {
    if (rows <= this.cap) return;
    const cap = Math.max(rows, Math.ceil(this.cap * 1.5), 256);
    const need = DIM + cap * (DIM + 8);
    const oldScales = this.sOff;
    if (this.simd) {
      const have = this.simd.memory.buffer.byteLength;
      if (need > have) this.simd.memory.grow(Math.ceil((need - have) / PAGE));
      this.buffer = this.simd.memory.buffer;
    } else {
      const next = new ArrayBuffer(need);
      new Uint8Array(next).set(new Uint8Array(this.buffer));
      this.buffer = next;
    }
    const bytes = new Uint8Array(this.buffer);
    const newScales = DIM + cap * DIM;
    bytes.copyWithin(newScales, oldScales, oldScales + this.rows * 4);
    this.cap = cap;
    this.views();
    const floats = new Float32Array(cap * DIM);
    floats.set(this.floats.subarray(0, this.rows * DIM));
    this.floats = floats;
  }

  /** Writes a template (an L2-normalised 128-d descriptor) into row `row`. */
  setRow(row: number, d: Float32Array): void {
    this.floats.set(d, row * DIM);
    this.scales[row] = quantise(d, this.int8, this.tOff + row * DIM);
  }

  /** Moves row `from` onto row `to` (swap-remove). */
  moveRow(from: number, to: number): void {
    this.int8.copyWithin(this.tOff + to * DIM, this.tOff + from * DIM, this.tOff + (from + 1) * DIM);
    this.floats.copyWithin(to * DIM, from * DIM, (from + 1) * DIM);
    this.scales[to] = this.scales[from];
  }

  /** Approximate scores of every row (int8 dot × row scale; the query's own scale left out). */
  scan(query: Float32Array): { scores: Float32Array; queryScale: number } {
    const queryScale = quantise(query, this.int8, 0);
    const n = this.rows;
    if (this.simd) this.simd.scores(0, this.tOff, this.sOff, this.oOff, n);
    else jsScores(this.int8, this.tOff, this.scales, this.out, n);
    return { scores: this.out.subarray(0, n), queryScale };
  }

  /** Exact float score (dot product) of one row against the query. */
  dot(row: number, q: Float32Array): number {
    const f = this.floats;
    let o = row * DIM;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let i = 0; i < DIM; i += 4, o += 4) {
      s0 += f[o] * q[i];
      s1 += f[o + 1] * q[i + 1];
      s2 += f[o + 2] * q[i + 2];
      s3 += f[o + 3] * q[i + 3];
    }
    return s0 + s1 + s2 + s3;
  }

  row(row: number): Float32Array {
    return this.floats.slice(row * DIM, (row + 1) * DIM);
  }

  /** Bytes held: the int8 region, scales and scores, and the float rows. */
  bytes(): { int8: number; float: number } {
    return { int8: DIM + this.cap * (DIM + 8), float: this.floats.byteLength };
  }
}

/** Symmetric per-vector int8 quantisation: q = round(v · 127 / max|v|); returns the scale max|v|/127. */
export function quantise(v: Float32Array, into: Int8Array, at: number): number {
  let max = 0;
  for (let i = 0; i < DIM; i++) {
    const a = Math.abs(v[i]);
    if (a > max) max = a;
  }
  if (max === 0) {
    into.fill(0, at, at + DIM);
    return 0;
  }
  const k = 127 / max;
  for (let i = 0; i < DIM; i++) into[at + i] = Math.round(v[i] * k);
  return Math.fround(max / 127);
}

/** The plain JS scan, bit-identical to the SIMD kernel. */
export function jsScores(int8: Int8Array, tOff: number, scales: Float32Array, out: Float32Array, n: number): void {
  for (let r = 0, t = tOff; r < n; r++, t += DIM) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let i = 0; i < DIM; i += 4) {
      s0 += int8[i] * int8[t + i];
      s1 += int8[i + 1] * int8[t + i + 1];
      s2 += int8[i + 2] * int8[t + i + 2];
      s3 += int8[i + 3] * int8[t + i + 3];
    }
    out[r] = Math.fround(s0 + s1 + s2 + s3) * scales[r];
  }
}
