// Synthetic distractor templates for 1:N evaluation: drawn per dimension from a normal law with
// the real templates' mean and variance, then L2-normalised and given a length drawn from the real
// templates' lengths (descriptors are not unit vectors: match-threshold.ts). They are labelled
// synthetic wherever they are reported: they model a large gallery's score spread, not real faces.
import { SitegateError } from '../../core/errors.js';
import { DIM } from './index-simd-kernel.js';

export const SYNTHETIC_PREFIX = '~synthetic:';

/** A seeded uniform generator in [0, 1) (mulberry32): the same seed gives the same distractors. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function dimensionStats(templates: readonly Float32Array[]): { mean: Float64Array; sd: Float64Array; length: { mean: number; sd: number } } {
  if (templates.length < 2) throw new SitegateError('face_eval_distractors', `synthetic distractors need at least 2 real templates, got ${templates.length}`);
  const n = templates.length;
  const mean = new Float64Array(DIM);
  const sd = new Float64Array(DIM);
  for (const t of templates) for (let i = 0; i < DIM; i++) mean[i] += t[i] / n;
  for (const t of templates) for (let i = 0; i < DIM; i++) sd[i] += (t[i] - mean[i]) ** 2 / (n - 1);
  for (let i = 0; i < DIM; i++) sd[i] = Math.sqrt(sd[i]);
  const lengths = templates.map((t) => Math.hypot(...t));
  const lengthMean = lengths.reduce((s, l) => s + l, 0) / n;
  const lengthSd = Math.sqrt(lengths.reduce((s, l) => s + (l - lengthMean) ** 2, 0) / (n - 1));
  return { mean, sd, length: { mean: lengthMean, sd: lengthSd } };
}

/** `count` synthetic templates back to back (count × 128 floats), with lengths like the real ones'. */
export function syntheticDistractors(templates: readonly Float32Array[], count: number, seed: number): Float32Array {
  const { mean, sd, length } = dimensionStats(templates);
  const rnd = seededRandom(seed);
  const out = new Float32Array(count * DIM);
  const v = new Float64Array(DIM);
  for (let n = 0; n < count; n++) {
    let norm = 0;
    for (let i = 0; i < DIM; i += 2) {
      // Box–Muller: two normal draws per two uniforms.
      const r = Math.sqrt(-2 * Math.log(1 - rnd()));
      const a = 2 * Math.PI * rnd();
      v[i] = mean[i] + sd[i] * r * Math.cos(a);
      v[i + 1] = mean[i + 1] + sd[i + 1] * r * Math.sin(a);
      norm += v[i] * v[i] + v[i + 1] * v[i + 1];
    }
    norm = Math.sqrt(norm) || 1;
    // One more normal draw for the length, kept within three standard deviations.
    const z = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    const k = (length.mean + length.sd * Math.max(-3, Math.min(3, z))) / norm;
    for (let i = 0; i < DIM; i++) out[n * DIM + i] = v[i] * k;
  }
  return out;
}

export function syntheticIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${SYNTHETIC_PREFIX}${i}`);
}
