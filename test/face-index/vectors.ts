import { seededRandom } from '../../src/gate/face/distractors.js';

export function unit(v: ArrayLike<number>): Float32Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += v[i] * v[i];
  n = Math.sqrt(n);
  return Float32Array.from(v, (x) => x / n);
}

export function randomUnit(rnd: () => number): Float32Array {
  return unit(Array.from({ length: 128 }, () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd())));
}

/** `base` plus Gaussian noise of relative size `amount`, re-normalised. */
export function jitter(base: Float32Array, amount: number, rnd: () => number): Float32Array {
  const n = randomUnit(rnd);
  return unit(base.map((x, i) => x + amount * n[i]));
}

export const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

export { seededRandom };
