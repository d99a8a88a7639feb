// Synthetic distractor templates for 1:N evaluation: drawn per dimension from a normal law with
// the real templates' mean and variance, then L2-normalised. They are labelled synthetic wherever
// they are reported: they model a large gallery's score spread, not real faces.
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

export function dimensionStats(templates: readonly Float32Array[]): { mean: Float64Array; sd: Float64Array } {
  if (templates.length < 2) throw new SitegateError('face_eval_distractors', `synthetic distractors need at least 2 real templates, got ${templates.length}`);
  const mean = new Float64Array(DIM);
  const sd = new Float64Array(DIM);
  for (const t of templates) for (let i = 0; i < DIM; i++) mean[i] += t[i] / templates.length;
  for (const t of templates) for (let i = 0; i < DIM; i++) sd[i] += (t[i] - mean[i]) ** 2 / (templates.length - 1);
  for (let i = 0; i < DIM; i++) sd[i] = Math.sqrt(sd[i]);
  return { mean, sd };
}

/** `count` synthetic templates back to back (count × 128 floats), each L2-normalised. */
export function syntheticDistractors(templates: readonly Float32Array[], count: number, seed: number): Float32Array {
  const { mean, sd } = dimensionStats(templates);
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
    for (let i = 0; i < DIM; i++) out[n * DIM + i] = v[i] / norm;
  }
  return out;
}

export function syntheticIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${SYNTHETIC_PREFIX}${i}`);
}
