// Hand-computed answers: each expected number is worked out in the comments.
import { describe, expect, it } from 'vitest';
import { identificationAt, thresholdAllowing, verificationAtFar, type ImpostorPair } from '../../src/gate/face/eval-metrics.js';
import { thresholdForFar } from '../../src/gate/face/index-thresholds.js';
import { dimensionStats, syntheticDistractors } from '../../src/gate/face/distractors.js';
import { randomUnit, seededRandom } from './vectors.js';

// Impostor scores sorted: .9 (AD) .6 (CD) .5 (BD) .4 (BC) .3 (AC) .2 (AB) .1 (AB).
const impostors: ImpostorPair[] = [
  { a: 'A', b: 'B', score: 0.1 }, { a: 'A', b: 'B', score: 0.2 }, { a: 'A', b: 'C', score: 0.3 },
  { a: 'A', b: 'D', score: 0.9 }, { a: 'B', b: 'C', score: 0.4 }, { a: 'B', b: 'D', score: 0.5 }, { a: 'C', b: 'D', score: 0.6 },
];

describe('verification metrics', () => {
  it('picks the threshold that lets the allowed number of scores through', () => {
    expect(thresholdAllowing([0.9, 0.6, 0.5], 0)).toBe(0.9);
    expect(thresholdAllowing([0.9, 0.6, 0.5], 2)).toBe(0.5);
    expect(thresholdAllowing([0.9], 1)).toBeNull();
  });

  it('scores each person with a threshold chosen without them', () => {
    const genuine = [{ person: 'A', score: 0.65 }, { person: 'B', score: 0.55 }, { person: 'C', score: 0.95 }, { person: 'D', score: 0.7 }];
    const p = verificationAtFar(genuine, impostors, 0.2);
    // All pairs: 7 × 0.2 = 1.4 → 1 allowed → threshold .6 (the second best).
    expect(p.threshold).toBe(0.6);
    // Without A: BC .4 BD .5 CD .6, 3 × .2 → 0 allowed → .6; A's .65 passes.
    // Without B: .3 .9 .6 → .9; B's .55 fails. Without C: .1 .2 .9 .5 → .9; C's .95 passes.
    // Without D: .1 .2 .3 .4 → .4; D's .7 passes.
    expect(p).toMatchObject({ accepted: 3, genuinePairs: 4, tar: 0.75, resolvable: true });
    // Pair (A,D) is scored against the pairs without A or D: BC .4 → .9 > .4, a false accept;
    // (B,D) against AC .3 → .5 accepted; (C,D) against AB .1 .2 (0 allowed) → .6 > .2 accepted;
    // (A,B) against CD .6, (A,C) against BD .5, (B,C) against AD .9: all rejected.
    expect(p).toMatchObject({ falseAccepts: 3, impostorPairs: 7 });
    expect(p.measuredFar).toBeCloseTo(3 / 7, 12);
    expect(p.foldThresholds).toEqual({ min: 0.2, max: 0.9 });
  });

  it('counts a genuine pair without a descriptor as a rejection', () => {
    const p = verificationAtFar([{ person: 'A', score: 0.99 }, { person: 'A', score: null }], impostors, 0.2);
    expect(p).toMatchObject({ accepted: 1, genuinePairs: 2, genuineWithoutDescriptor: 1, tar: 0.5 });
  });

  it('says when a target FAR is below what the impostor pairs can resolve', () => {
    const p = verificationAtFar([{ person: 'A', score: 0.95 }], impostors, 0.001);
    expect(p.resolvable).toBe(false);
    expect(p.threshold).toBe(0.9);
  });

  it('reaches the expected TAR on known score distributions', () => {
    // Impostors uniform on [0, 0.5) over 40 people; genuine scores .45 for every tenth person,
    // .8 otherwise. At FAR 1 % (about 1 % of impostors above ≈ .495) the .45 pairs fail: TAR 90 %.
    const rnd = seededRandom(7);
    const people = Array.from({ length: 40 }, (_, i) => `P${i}`);
    const imp: ImpostorPair[] = [];
    for (let i = 0; i < 40; i++) for (let j = i + 1; j < 40; j++) for (let k = 0; k < 3; k++) imp.push({ a: people[i], b: people[j], score: rnd() * 0.5 });
    const gen = people.flatMap((p, i) => Array.from({ length: 5 }, () => ({ person: p, score: i % 10 === 0 ? 0.45 : 0.8 })));
    const v = verificationAtFar(gen, imp, 0.01);
    expect(v.tar).toBeCloseTo(0.9, 12);
    expect(v.threshold!).toBeGreaterThan(0.48);
    expect(v.measuredFar).toBeGreaterThan(0.005);
    expect(v.measuredFar).toBeLessThan(0.015);
  });
});

describe('identification metrics', () => {
  const nonMated = [
    { person: 'A', candidates: [{ workerId: 'B', score: 0.5 }, { workerId: '~s', score: 0.3 }] },
    { person: 'B', candidates: [{ workerId: 'A', score: 0.7 }, { workerId: 'C', score: 0.2 }] },
    { person: 'C', candidates: [{ workerId: '~s', score: 0.4 }, { workerId: 'A', score: 0.1 }] },
    { person: 'D', candidates: [{ workerId: 'A', score: 0.6 }, { workerId: 'B', score: 0.35 }] },
  ];
  const mated = [
    { person: 'A', top: { workerId: 'A', score: 0.8 } },
    { person: 'A', top: { workerId: 'A', score: 0.55 } },
    { person: 'B', top: { workerId: 'B', score: 0.65 } },
    { person: 'C', top: { workerId: 'A', score: 0.9 } }, // wrong person at rank 1: a miss
  ];

  it('gives FNIR at FPIR 0 with thresholds chosen without the searched person', () => {
    const p = identificationAt(mated, nonMated, 0);
    // A's fold: B→C .2, C→~s .4, D→B .35 → .4: .8 and .55 pass. B's fold: A→~s .3, C .4, D→A .6 → .6: .65 passes.
    expect(p).toMatchObject({ misses: 1, matedSearches: 4, fnir: 0.25, threshold: 0.7, fpir: 0 });
    // Non-mated A (.5) against its fold .4 and B (.7) against .6 pass: two false positives;
    // C (.4) against .7 and D (.6) against .7 do not.
    expect(p).toMatchObject({ falsePositives: 2, nonMatedSearches: 4, measuredFpir: 0.5 });
  });

  it('gives FNIR at the smallest FPIR the non-mated searches resolve (one allowed)', () => {
    const p = identificationAt(mated, nonMated, 1);
    expect(p).toMatchObject({ allowedFalsePositives: 1, fpir: 0.25, threshold: 0.6, misses: 1, fnir: 0.25 });
    expect(p.foldThresholds).toEqual({ min: 0.35, max: 0.6 });
  });

  it('counts a mated search without a descriptor as a miss', () => {
    expect(identificationAt([{ person: 'A', top: null }], nonMated, 0)).toMatchObject({ misses: 1, fnir: 1 });
  });
});

describe('synthetic distractors and threshold tables', () => {
  it('draws distractors from the real templates’ per-dimension statistics and lengths, repeatably', () => {
    const rnd = seededRandom(8);
    const shift = randomUnit(rnd);
    // Lengths spread like real descriptors' (about 1 ± 0.05).
    const real = Array.from({ length: 200 }, () => {
      const v = randomUnit(rnd).map((x, i) => x * 0.2 + shift[i]);
      const k = (0.9 + 0.2 * rnd()) / Math.hypot(...v);
      return v.map((x) => x * k);
    });
    const d = syntheticDistractors(real, 5000, 42);
    expect(d).toEqual(syntheticDistractors(real, 5000, 42));
    const rows = Array.from({ length: 5000 }, (_, n) => d.subarray(n * 128, n * 128 + 128));
    const real1 = dimensionStats(real), syn = dimensionStats(rows);
    expect(real1.length.sd).toBeGreaterThan(0.04);
    expect(syn.length.mean).toBeCloseTo(real1.length.mean, 2);
    expect(Math.abs(syn.length.sd - real1.length.sd)).toBeLessThan(0.1 * real1.length.sd);
    // Normalising rescales every row by about the same factor, so the means keep their direction.
    const cos = real1.mean.reduce((s, m, i) => s + m * syn.mean[i], 0) / Math.hypot(...real1.mean) / Math.hypot(...syn.mean);
    expect(cos).toBeGreaterThan(0.99);
    expect(() => syntheticDistractors(real.slice(0, 1), 10, 1)).toThrow(/at least 2/);
  });

  it('picks the most permissive threshold measured at or below a FAR', () => {
    const table = {
      model: 'm', measuredOn: 's', measuredAt: '2025-01-01T00:00:00Z',
      rows: [
        { targetFar: 0.01, threshold: 0.8, measuredFar: 0.009, impostorPairs: 1000, tar: 0.99, genuinePairs: 100 },
        { targetFar: 0.001, threshold: 0.9, measuredFar: 0.001, impostorPairs: 1000, tar: 0.95, genuinePairs: 100 },
      ],
    };
    expect(thresholdForFar(table, 0.01).threshold).toBe(0.8);
    expect(thresholdForFar(table, 0.005).threshold).toBe(0.9);
    expect(() => thresholdForFar(table, 0.0001)).toThrow(/no face threshold measured for a FAR of 0.0001/);
  });
});
