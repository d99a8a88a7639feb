// The 1:N index of the roster's face templates: an int8 scan of every template (SIMD kernel or
// JS), a float re-rank of the best candidates, then the threshold and margin rules.
// Scores are 1 − ½·|q − t|² of descriptors at DESCRIPTOR_SCALE (match-threshold.ts); a match
// needs score > threshold and score − (best score of any other worker) ≥ margin.
import { SitegateError } from '../../core/errors.js';
import { TemplateMatrix, type KernelKind } from './index-matrix.js';
import { DIM, instantiateSimdKernel } from './index-simd-kernel.js';

export interface FaceIndexOptions {
  /** 1:N: accepted when the best score is strictly above this (match-threshold.ts). */
  threshold: number;
  /** 1:N: best minus the best score of a different worker must be at least this. */
  margin: number;
  /** 1:1 (card + face): accepted when the score is strictly above this; default `threshold`. */
  verifyThreshold?: number;
  /** Templates re-ranked with float scores after the int8 scan (default 32). */
  rerank?: number;
  /** 'auto' (default) uses the SIMD kernel and falls back to JS when WebAssembly SIMD is missing. */
  kernel?: 'auto' | 'simd' | 'js';
}

export interface FaceMatch {
  workerId: string;
  score: number;
  /** score − secondScore; a lower bound when no other worker was among the re-ranked candidates. */
  margin: number;
  secondWorkerId?: string;
  secondScore?: number;
}

export type FaceSearchResult = FaceMatch | { rejected: 'below_threshold' | 'ambiguous' | 'empty_index'; best?: FaceMatch };

export type FaceVerifyResult =
  | { workerId: string; score: number; accepted: boolean }
  | { workerId: string; rejected: 'no_templates' };

export interface Candidate {
  workerId: string;
  score: number;
}

export interface RosterFaceDelta {
  upsert?: { workerId: string; templates: Float32Array[] }[];
  remove?: string[];
}

export async function createFaceIndex(o: FaceIndexOptions): Promise<FaceIndex> {
  const want = o.kernel ?? 'auto';
  if (want === 'js') return new FaceIndex(o, new TemplateMatrix(null));
  try {
    return new FaceIndex(o, new TemplateMatrix(await instantiateSimdKernel()));
  } catch (err) {
    if (want === 'simd') throw err;
    return new FaceIndex(o, new TemplateMatrix(null));
  }
}

export class FaceIndex {
  private readonly owner: string[] = [];
  private readonly rowsOf = new Map<string, number[]>();
  private readonly rerank: number;

  constructor(
    private readonly o: FaceIndexOptions,
    private readonly m: TemplateMatrix,
  ) {
    this.rerank = Math.max(2, o.rerank ?? 32);
  }

  get kernel(): KernelKind {
    return this.m.kernel;
  }
  get size(): number {
    return this.m.rows;
  }
  get workerCount(): number {
    return this.rowsOf.size;
  }
  get options(): Readonly<FaceIndexOptions> {
    return this.o;
  }

  has(workerId: string): boolean {
    return this.rowsOf.has(workerId);
  }

  workerIds(): string[] {
    return [...this.rowsOf.keys()];
  }

  /** Adds templates to a worker (creating the worker). */
  add(workerId: string, templates: readonly Float32Array[]): void {
    for (const t of templates) checkTemplate(t, workerId);
    this.m.ensureCapacity(this.m.rows + templates.length);
    let rows = this.rowsOf.get(workerId);
    if (!rows) this.rowsOf.set(workerId, (rows = []));
    for (const t of templates) {
      const r = this.m.rows++;
      this.m.setRow(r, t);
      this.owner[r] = workerId;
      rows.push(r);
    }
  }

  /** Adds `count` templates stored back to back in `flat` (count × 128), each its own worker. */
  addFlat(ids: readonly string[], flat: Float32Array): void {
    if (flat.length !== ids.length * DIM) throw new SitegateError('face_template', `expected ${ids.length * DIM} floats, got ${flat.length}`);
    this.m.ensureCapacity(this.m.rows + ids.length);
    for (let i = 0; i < ids.length; i++) this.add(ids[i], [flat.subarray(i * DIM, (i + 1) * DIM)]);
  }

  /** Removes every template of a worker; returns how many were removed. */
  remove(workerId: string): number {
    const rows = this.rowsOf.get(workerId);
    if (!rows) return 0;
    this.rowsOf.delete(workerId);
    // Highest rows first, so a row moved into a hole is never one still to be removed.
    for (const r of [...rows].sort((a, b) => b - a)) {
      const last = --this.m.rows;
      if (r !== last) {
        const moved = this.owner[last];
        this.m.moveRow(last, r);
        this.owner[r] = moved;
        const mr = this.rowsOf.get(moved)!;
        mr[mr.indexOf(last)] = r;
      }
      this.owner.length = last;
    }
    return rows.length;
  }

  replace(workerId: string, templates: readonly Float32Array[]): void {
    for (const t of templates) checkTemplate(t, workerId);
    this.remove(workerId);
    if (templates.length) this.add(workerId, templates);
  }

  /** Applies a roster delta: removals first, then each upserted worker's templates replace its old ones. */
  apply(delta: RosterFaceDelta): void {
    for (const id of delta.remove ?? []) this.remove(id);
    for (const u of delta.upsert ?? []) this.replace(u.workerId, u.templates);
  }

  /** The templates held for a worker (copies). */
  templatesOf(workerId: string): Float32Array[] {
    return (this.rowsOf.get(workerId) ?? []).map((r) => this.m.row(r));
  }

  /**
   * The best `limit` workers by float score (one entry per worker, best first) among the
   * `rerank` best templates of the int8 scan. `floor` is the approximate score of the last
   * re-ranked template, an upper bound on every template left out (-1 when none was left out).
   */
  candidates(query: Float32Array, limit = 2): { list: Candidate[]; floor: number } {
    checkTemplate(query, 'query');
    const n = this.m.rows;
    if (n === 0) return { list: [], floor: -1 };
    const { scores, offset } = this.m.scan(query);
    const k = Math.min(this.rerank, n);
    const top = topRows(scores, k);
    const best = new Map<string, number>();
    for (const r of top) {
      const w = this.owner[r];
      const s = this.m.score(r, query);
      const prev = best.get(w);
      if (prev === undefined || s > prev) best.set(w, s);
    }
    const list = [...best].map(([workerId, score]) => ({ workerId, score })).sort((a, b) => b.score - a.score).slice(0, limit);
    const floor = k < n ? scores[top[top.length - 1]] + offset : -1;
    return { list, floor };
  }

  /** 1:N search with the threshold and margin rules. */
  search(query: Float32Array): FaceSearchResult {
    const { list, floor } = this.candidates(query, 2);
    if (!list.length) return { rejected: 'empty_index' };
    const [first, second] = list;
    const best: FaceMatch = second
      ? { workerId: first.workerId, score: first.score, margin: first.score - second.score, secondWorkerId: second.workerId, secondScore: second.score }
      : { workerId: first.workerId, score: first.score, margin: first.score - floor };
    if (!(best.score > this.o.threshold)) return { rejected: 'below_threshold', best };
    if (best.margin < this.o.margin) return { rejected: 'ambiguous', best };
    return best;
  }

  /** 1:1 verification (card + face): the worker's best template against the query. */
  verify(workerId: string, query: Float32Array): FaceVerifyResult {
    checkTemplate(query, 'query');
    const rows = this.rowsOf.get(workerId);
    if (!rows?.length) return { workerId, rejected: 'no_templates' };
    let score = -Infinity;
    for (const r of rows) score = Math.max(score, this.m.score(r, query));
    return { workerId, score, accepted: score > (this.o.verifyThreshold ?? this.o.threshold) };
  }

  /** Approximate scores of every template, in row order (for tests of the two kernels). */
  scanScores(query: Float32Array): Float32Array {
    checkTemplate(query, 'query');
    return this.m.scan(query).scores.slice();
  }

  memoryBytes(): { int8: number; fine: number; total: number } {
    const b = this.m.bytes();
    return { ...b, total: b.int8 + b.fine };
  }
}

function checkTemplate(t: Float32Array, who: string): void {
  if (!(t instanceof Float32Array) || t.length !== DIM) {
    throw new SitegateError('face_template', `face template of ${who} must be a Float32Array of ${DIM} values`);
  }
  for (let i = 0; i < DIM; i++) {
    if (!Number.isFinite(t[i])) throw new SitegateError('face_template', `face template of ${who} holds a non-finite value at ${i}`);
  }
}

/** Rows of the k highest scores, best first. */
function topRows(scores: Float32Array, k: number): number[] {
  const rows: number[] = [];
  const vals: number[] = [];
  let min = -Infinity;
  for (let r = 0; r < scores.length; r++) {
    const s = scores[r];
    if (rows.length === k && s <= min) continue;
    let i = rows.length === k ? k - 1 : rows.length;
    while (i > 0 && vals[i - 1] < s) {
      vals[i] = vals[i - 1];
      rows[i] = rows[i - 1];
      i--;
    }
    vals[i] = s;
    rows[i] = r;
    if (rows.length > k) {
      rows.length = k;
      vals.length = k;
    }
    if (rows.length === k) min = vals[k - 1];
  }
  return rows;
}
