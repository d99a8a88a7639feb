// Pure evaluation metrics. A score is accepted when strictly above its threshold. Every threshold
// used to score a person's comparisons is chosen leave-one-person-out: from comparisons that
// involve neither that person nor (for an impostor pair) the other person of the pair.
import type { Candidate } from './face-index.js';

export interface GenuinePair {
  person: string;
  /** null: one photo of the pair gave no descriptor (counted as a rejection). */
  score: number | null;
}

export interface ImpostorPair {
  a: string;
  b: string;
  score: number;
}

export interface VerificationPoint {
  targetFar: number;
  /** Threshold chosen on all impostor pairs: the one to deploy. */
  threshold: number | null;
  /** Range of the leave-one-person-out thresholds the rates below were scored with. */
  foldThresholds: { min: number | null; max: number | null };
  tar: number;
  accepted: number;
  genuinePairs: number;
  genuineWithoutDescriptor: number;
  measuredFar: number;
  falseAccepts: number;
  impostorPairs: number;
  /** false when the target FAR is below 1 / impostor pairs: the threshold then allows no false accept at all. */
  resolvable: boolean;
}

/** The threshold letting through `allowed` of the scores (sorted best first); null lets everything through. */
export function thresholdAllowing(desc: readonly number[], allowed: number): number | null {
  return allowed < desc.length ? desc[allowed] : null;
}

export function allowedCount(rate: number, n: number): number {
  return Math.floor(rate * n + 1e-9);
}

const passes = (score: number, t: number | null) => t === null || score > t;
const pairKey = (a: string, b: string) => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);

/** TAR at a target FAR, thresholds leave-one-person-out. */
export function verificationAtFar(genuine: readonly GenuinePair[], impostors: readonly ImpostorPair[], targetFar: number): VerificationPoint {
  const sorted = [...impostors].sort((x, y) => y.score - x.score);
  const n = sorted.length;
  const perPerson = new Map<string, number>();
  const perPair = new Map<string, number>();
  for (const p of sorted) {
    perPerson.set(p.a, (perPerson.get(p.a) ?? 0) + 1);
    perPerson.set(p.b, (perPerson.get(p.b) ?? 0) + 1);
    const k = pairKey(p.a, p.b);
    perPair.set(k, (perPair.get(k) ?? 0) + 1);
  }
  const excluding = (x: string, y: string): number | null => {
    const nFold = n - (perPerson.get(x) ?? 0) - (x === y ? 0 : (perPerson.get(y) ?? 0) - (perPair.get(pairKey(x, y)) ?? 0));
    let left = allowedCount(targetFar, nFold);
    for (const p of sorted) {
      if (p.a === x || p.b === x || p.a === y || p.b === y) continue;
      if (left-- === 0) return p.score;
    }
    return null;
  };
  const folds: (number | null)[] = [];
  const foldOf = new Map<string, number | null>();
  const cached = (x: string, y: string) => {
    const k = pairKey(x, y);
    if (!foldOf.has(k)) {
      const t = excluding(x, y);
      foldOf.set(k, t);
      folds.push(t);
    }
    return foldOf.get(k)!;
  };
  let accepted = 0;
  let missing = 0;
  for (const g of genuine) {
    if (g.score === null) missing++;
    else if (passes(g.score, cached(g.person, g.person))) accepted++;
  }
  let falseAccepts = 0;
  for (const p of sorted) if (passes(p.score, cached(p.a, p.b))) falseAccepts++;
  const finite = folds.filter((t): t is number => t !== null);
  return {
    targetFar,
    threshold: thresholdAllowing(sorted.map((p) => p.score), allowedCount(targetFar, n)),
    foldThresholds: { min: finite.length ? Math.min(...finite) : null, max: finite.length ? Math.max(...finite) : null },
    tar: genuine.length ? accepted / genuine.length : NaN,
    accepted,
    genuinePairs: genuine.length,
    genuineWithoutDescriptor: missing,
    measuredFar: n ? falseAccepts / n : NaN,
    falseAccepts,
    impostorPairs: n,
    resolvable: targetFar * n >= 1,
  };
}

export interface MatedSearch {
  person: string;
  /** Rank-1 candidate of a search whose gallery holds the person (null: no descriptor). */
  top: Candidate | null;
}

export interface NonMatedSearch {
  person: string;
  /** Best candidates (one per worker, best first) of a search whose gallery lacks the person. */
  candidates: readonly Candidate[];
}

export interface IdentificationPoint {
  /** False positives allowed among the non-mated searches: 0 is FPIR 0, 1 the smallest FPIR they resolve. */
  allowedFalsePositives: number;
  fpir: number;
  threshold: number | null;
  foldThresholds: { min: number | null; max: number | null };
  fnir: number;
  misses: number;
  matedSearches: number;
  measuredFpir: number;
  falsePositives: number;
  nonMatedSearches: number;
}

/**
 * FNIR (rank 1, score above the threshold) at the threshold that lets `allowed` non-mated
 * searches through. A mated search of person P is scored against the threshold from the
 * non-mated searches of everyone else, with P's own templates left out of their candidates.
 */
export function identificationAt(mated: readonly MatedSearch[], nonMated: readonly NonMatedSearch[], allowed: number): IdentificationPoint {
  const top = (s: NonMatedSearch, without?: string) => s.candidates.find((c) => c.workerId !== without)?.score ?? -Infinity;
  const thresholdWithout = (person?: string) => {
    const desc = nonMated.filter((s) => s.person !== person).map((s) => top(s, person)).sort((a, b) => b - a);
    return thresholdAllowing(desc, allowed);
  };
  const folds = new Map<string, number | null>();
  const fold = (person: string) => {
    if (!folds.has(person)) folds.set(person, thresholdWithout(person));
    return folds.get(person)!;
  };
  let misses = 0;
  for (const m of mated) if (!m.top || m.top.workerId !== m.person || !passes(m.top.score, fold(m.person))) misses++;
  let falsePositives = 0;
  for (const s of nonMated) if (passes(top(s), fold(s.person))) falsePositives++;
  const finite = [...folds.values()].filter((t): t is number => t !== null);
  return {
    allowedFalsePositives: allowed,
    fpir: nonMated.length ? allowed / nonMated.length : NaN,
    threshold: thresholdWithout(undefined),
    foldThresholds: { min: finite.length ? Math.min(...finite) : null, max: finite.length ? Math.max(...finite) : null },
    fnir: mated.length ? misses / mated.length : NaN,
    misses,
    matedSearches: mated.length,
    measuredFpir: nonMated.length ? falsePositives / nonMated.length : NaN,
    falsePositives,
    nonMatedSearches: nonMated.length,
  };
}
