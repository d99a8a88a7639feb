// Contiguous template storage for the 1:N index: one int8 row (per-row scale) and a bias per
// template for the coarse scan, and an int8 residual row (per-row scale) that with the scan's row
// gives the exact re-rank. The int8 rows live in the SIMD kernel's WebAssembly memory when it is
// available, else in a plain ArrayBuffer scanned by the JS loop.
// Memory layout: [query 128 B][templates cap×128 B][scales cap×4 B][biases cap×4 B][scores cap×4 B].
//
// Scores are 1 − ½·|q − t|² (match-threshold.ts) = q·t − ½|t|² + (1 − ½|q|²). The scan computes
// q·t − ½|t|² (the last term is the same for every row); the re-rank the whole score.
import { DIM, type SimdKernelInstance } from './index-simd-kernel.js';

const PAGE = 65536;
/** Per-row bytes in the kernel's memory: int8 row, scale, bias, score. */
const ROW_BYTES = DIM + 12;

export type KernelKind = 'simd' | 'js';

export class TemplateMatrix {
  readonly kernel: KernelKind;
  private buffer: ArrayBuffer;
  private cap = 0;
  private int8!: Int8Array;
  private scales!: Float32Array;
  private biases!: Float32Array;
  private out!: Float32Array;
  // The re-rank: what the int8 row leaves out (at most half a step), quantised again to int8. The
  // two rows give every value to within 1/64,516 of the row's largest, a score error below 1e-5,
  // in a quarter of the memory of a float32 copy (1:N over 100,000 templates: 38 MB saved).
  private residual = new Int8Array(0);
  private residualScales = new Float32Array(0);
  /** setRow's scratch: what the int8 row leaves out, before it is quantised. */
  private readonly rest = new Float32Array(DIM);
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
  private get bOff() { return DIM + this.cap * (DIM + 4); }
  private get oOff() { return DIM + this.cap * (DIM + 8); }

  private views(): void {
    this.int8 = new Int8Array(this.buffer, 0, DIM + this.cap * DIM);
    this.scales = new Float32Array(this.buffer, this.sOff, this.cap);
    this.biases = new Float32Array(this.buffer, this.bOff, this.cap);
    this.out = new Float32Array(this.buffer, this.oOff, this.cap);
  }

  ensureCapacity(rows: number): void {
    if (rows <= this.cap) return;
    const cap = Math.max(rows, Math.ceil(this.cap * 1.5), 256);
    const need = DIM + cap * ROW_BYTES;
    const [oldScales, oldBiases] = [this.sOff, this.bOff];
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
    // The biases move further than the scales: move them first, so the scales don't overwrite them.
    bytes.copyWithin(DIM + cap * (DIM + 4), oldBiases, oldBiases + this.rows * 4);
    bytes.copyWithin(DIM + cap * DIM, oldScales, oldScales + this.rows * 4);
    this.cap = cap;
    this.views();
    const residual = new Int8Array(cap * DIM);
    residual.set(this.residual.subarray(0, this.rows * DIM));
    this.residual = residual;
    const residualScales = new Float32Array(cap);
    residualScales.set(this.residualScales.subarray(0, this.rows));
    this.residualScales = residualScales;
  }

  /** Writes a template (a 128-d descriptor at DESCRIPTOR_SCALE) into row `row`. */
  setRow(row: number, d: Float32Array): void {
    const at = this.tOff + row * DIM;
    const scale = (this.scales[row] = quantise(d, this.int8, at));
    const rest = this.rest;
    for (let i = 0; i < DIM; i++) rest[i] = d[i] - this.int8[at + i] * scale;
    this.residualScales[row] = quantise(rest, this.residual, row * DIM);
    let sq = 0;
    for (let i = 0; i < DIM; i++) sq += d[i] * d[i];
    this.biases[row] = -sq / 2;
  }

  /** Moves row `from` onto row `to` (swap-remove). */
  moveRow(from: number, to: number): void {
    this.int8.copyWithin(this.tOff + to * DIM, this.tOff + from * DIM, this.tOff + (from + 1) * DIM);
    this.residual.copyWithin(to * DIM, from * DIM, (from + 1) * DIM);
    this.scales[to] = this.scales[from];
    this.biases[to] = this.biases[from];
    this.residualScales[to] = this.residualScales[from];
  }

  /**
   * Approximate scores of every row, in row order; `offset` turns one into a match score
   * (score ≈ scan + offset, the same offset for every row).
   */
  scan(query: Float32Array): { scores: Float32Array; offset: number } {
    const queryScale = quantise(query, this.int8, 0);
    const n = this.rows;
    if (this.simd) this.simd.scores(0, this.tOff, this.sOff, this.bOff, this.oOff, n, queryScale);
    else jsScores(this.int8, this.tOff, this.scales, this.biases, this.out, n, queryScale);
    let sq = 0;
    for (let i = 0; i < DIM; i++) sq += query[i] * query[i];
    return { scores: this.out.subarray(0, n), offset: 1 - sq / 2 };
  }

  /** The match score 1 − ½·|q − t|² of one row against the query (the re-rank). */
  score(row: number, q: Float32Array): number {
    const t = this.int8;
    const r = this.residual;
    const k = this.scales[row];
    const kr = this.residualScales[row];
    let o = this.tOff + row * DIM;
    let p = row * DIM;
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let i = 0; i < DIM; i += 4, o += 4, p += 4) {
      const d0 = t[o] * k + r[p] * kr - q[i];
      const d1 = t[o + 1] * k + r[p + 1] * kr - q[i + 1];
      const d2 = t[o + 2] * k + r[p + 2] * kr - q[i + 2];
      const d3 = t[o + 3] * k + r[p + 3] * kr - q[i + 3];
      s0 += d0 * d0;
      s1 += d1 * d1;
      s2 += d2 * d2;
      s3 += d3 * d3;
    }
    return 1 - (s0 + s1 + s2 + s3) / 2;
  }

  /** The template held in a row (as the re-rank sees it: within 1/64,516 of its largest value). */
  row(row: number): Float32Array {
    const out = new Float32Array(DIM);
    const [k, kr, o, p] = [this.scales[row], this.residualScales[row], this.tOff + row * DIM, row * DIM];
    for (let i = 0; i < DIM; i++) out[i] = this.int8[o + i] * k + this.residual[p + i] * kr;
    return out;
  }

  /** Bytes held: the kernel's region (int8 rows, scales, biases, scores) and the re-rank's residual rows. */
  bytes(): { int8: number; fine: number } {
    return { int8: DIM + this.cap * ROW_BYTES, fine: this.residual.byteLength + this.residualScales.byteLength };
  }
}

/** Symmetric per-vector int8 quantisation: q = round(v · 127 / max|v|); returns the scale max|v|/127. */
export function quantise(v: Float32Array, into: Int8Array, at: number): number {
  const top = 127;
  let max = 0;
  for (let i = 0; i < DIM; i++) {
    const a = Math.abs(v[i]);
    if (a > max) max = a;
  }
  if (max === 0) {
    into.fill(0, at, at + DIM);
    return 0;
  }
  const k = top / max;
  for (let i = 0; i < DIM; i++) into[at + i] = Math.round(v[i] * k);
  return Math.fround(max / top);
}

/** The plain JS scan, bit-identical to the SIMD kernel. */
export function jsScores(int8: Int8Array, tOff: number, scales: Float32Array, biases: Float32Array, out: Float32Array, n: number, queryScale: number): void {
  const qs = Math.fround(queryScale);
  for (let r = 0, t = tOff; r < n; r++, t += DIM) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let i = 0; i < DIM; i += 4) {
      s0 += int8[i] * int8[t + i];
      s1 += int8[i + 1] * int8[t + i + 1];
      s2 += int8[i + 2] * int8[t + i + 2];
      s3 += int8[i + 3] * int8[t + i + 3];
    }
    out[r] = Math.fround(Math.fround(Math.fround(s0 + s1 + s2 + s3) * scales[r]) * qs) + biases[r];
  }
}
