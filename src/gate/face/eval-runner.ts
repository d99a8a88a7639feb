// `sitegate face eval`: every rate, with the counts behind it, from folders of people
// (DIR/people/<name>/N.ext or DIR/<name>/N.ext). A person with one photo has no mated pair and
// serves as a stranger. Thresholds are chosen leave-one-person-out (eval-metrics.ts).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SitegateError, errorMessage } from '../../core/errors.js';
import { AUGMENTATIONS, augmentImage, type Augmentation } from './augment.js';
import { syntheticDistractors, syntheticIds } from './distractors.js';
import {
  identificationAt, verificationAtFar,
  type GenuinePair, type IdentificationPoint, type ImpostorPair, type MatedSearch, type NonMatedSearch, type VerificationPoint,
} from './eval-metrics.js';
import { createFaceIndex } from './face-index.js';
import type { ThresholdTable } from './index-thresholds.js';
import { similarity } from './match-threshold.js';

export interface Embedder {
  /** A reference photo, as enrolment takes it (its quality rules included). */
  embed(image: string | Buffer): Promise<{ descriptor?: Float32Array; refused?: string }>;
  /**
   * A degraded copy, as the gate matches a camera frame: a face of the minimum size is enough,
   * blur and pose are enrolment rules. Without it, copies go through `embed`.
   */
  probe?(image: string | Buffer): Promise<{ descriptor?: Float32Array; refused?: string }>;
}

export interface FaceEvalOptions {
  dir: string;
  embedder: Embedder;
  /** Descriptor model name, written into the threshold table. */
  model: string;
  /** Also evaluate the degraded copies (default true). */
  augment?: boolean;
  augmentations?: readonly Augmentation[];
  /** Synthetic distractor templates added to the 1:N gallery (default 100,000). */
  distractors?: number;
  seed?: number;
  fars?: readonly number[];
  kernel?: 'auto' | 'simd' | 'js';
  progress?: (message: string) => void;
  /** For the threshold table's date (default now). */
  now?: () => Date;
}

export type Variant = 'original' | Augmentation;

export interface Sample {
  person: string;
  photo: string;
  variant: Variant;
  descriptor?: Float32Array;
  refused?: string;
}

export interface IdentificationReport {
  galleryPeople: number;
  distractors: { count: number; synthetic: true; seed: number; drawnFrom: string };
  atFpir0: IdentificationPoint;
  atSmallestFpir: IdentificationPoint;
}

export interface FaceEvalReport {
  dir: string;
  people: number;
  photos: number;
  strangers: string[];
  detection: { attempted: number; failed: number; failures: { photo: string; variant: Variant; reason: string }[] };
  verification: VerificationPoint[];
  identification: IdentificationReport;
  augmented?: {
    kinds: Augmentation[];
    detection: Record<string, { attempted: number; failed: number }>;
    /** Degraded copy of one photo against the other original photos (enrolment stays clean). */
    verification: VerificationPoint[];
    perKind: Record<string, VerificationPoint>;
    /** Probes: originals plus every degraded copy; gallery: originals. */
    identification: IdentificationReport;
  };
  thresholds: ThresholdTable;
}

const IMAGE = /\.(jpe?g|png|webp)$/i;

export function listPeople(dir: string): { person: string; photos: string[] }[] {
  const root = existsSync(join(dir, 'people')) ? join(dir, 'people') : dir;
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new SitegateError('face_eval_dir', `${dir} is not a directory of people`);
  const people = readdirSync(root)
    .filter((p) => statSync(join(root, p)).isDirectory())
    .sort()
    .map((person) => ({
      person,
      photos: readdirSync(join(root, person))
        .filter((f) => IMAGE.test(f))
        .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
        .map((f) => join(root, person, f)),
    }))
    .filter((p) => p.photos.length > 0);
  if (people.length < 2) throw new SitegateError('face_eval_dir', `${root} holds ${people.length} person folder(s) with images; at least 2 are needed`);
  return people;
}

async function embedOne(embedder: Embedder, person: string, photo: string, variant: Variant, kind?: Augmentation): Promise<Sample> {
  try {
    const input = kind ? await augmentImage(photo, kind) : photo;
    const r = kind && embedder.probe ? await embedder.probe(input) : await embedder.embed(input);
    if (r.descriptor) return { person, photo, variant, descriptor: r.descriptor };
    return { person, photo, variant, refused: r.refused ?? 'no face found' };
  } catch (err) {
    return { person, photo, variant, refused: errorMessage(err) };
  }
}

/** Pairs of probes (any variant) against original references; same photo never paired with itself. */
export function pairs(probes: readonly Sample[], refs: readonly Sample[], sameSet: boolean): { genuine: GenuinePair[]; impostors: ImpostorPair[] } {
  const genuine: GenuinePair[] = [];
  const impostors: ImpostorPair[] = [];
  probes.forEach((p, i) => {
    refs.forEach((r, j) => {
      if (sameSet && j <= i) return;
      if (p.photo === r.photo) return;
      const score = p.descriptor && r.descriptor ? similarity(p.descriptor, r.descriptor) : null;
      if (p.person === r.person) genuine.push({ person: p.person, score });
      else if (score !== null) impostors.push({ a: p.person, b: r.person, score });
    });
  });
  return { genuine, impostors };
}

export async function runFaceEval(o: FaceEvalOptions): Promise<FaceEvalReport> {
  const say = o.progress ?? (() => {});
  const fars = o.fars ?? [0.01, 0.001];
  const seed = o.seed ?? 1;
  const kinds = o.augment === false ? [] : [...(o.augmentations ?? AUGMENTATIONS)];
  const people = listPeople(o.dir);
  const photos = people.flatMap((p) => p.photos.map((photo) => ({ person: p.person, photo })));

  say(`embedding ${photos.length} photos of ${people.length} people`);
  const originals: Sample[] = [];
  for (const p of photos) originals.push(await embedOne(o.embedder, p.person, p.photo, 'original'));
  const augmented: Sample[] = [];
  for (const kind of kinds) {
    say(`embedding ${photos.length} copies: ${kind}`);
    for (const p of photos) augmented.push(await embedOne(o.embedder, p.person, p.photo, kind, kind));
  }

  const orig = pairs(originals, originals, true);
  const verification = fars.map((f) => verificationAtFar(orig.genuine, orig.impostors, f));

  const templates = originals.filter((s) => s.descriptor).map((s) => s.descriptor!);
  const count = o.distractors ?? 100_000;
  say(`1:N: gallery of ${people.length} people + ${count} synthetic distractors`);
  const index = await createFaceIndex({ threshold: 1, margin: 0, kernel: o.kernel });
  if (count > 0) index.addFlat(syntheticIds(count), syntheticDistractors(templates, count, seed));
  const searches = identificationSearches(index, people.map((p) => p.person), originals, augmented);
  const galleryPeople = new Set(originals.filter((s) => s.descriptor).map((s) => s.person)).size;
  const ident = (set: 'original' | 'all'): IdentificationReport => {
    const mated = set === 'all' ? searches.mated : searches.mated.filter((m) => m.variant === 'original');
    const nonMated = set === 'all' ? searches.nonMated : searches.nonMated.filter((m) => m.variant === 'original');
    return {
      galleryPeople,
      distractors: { count, synthetic: true, seed, drawnFrom: `per-dimension mean and variance of ${templates.length} real templates` },
      atFpir0: identificationAt(mated, nonMated, 0),
      atSmallestFpir: identificationAt(mated, nonMated, 1),
    };
  };

  const failures = originals.filter((s) => !s.descriptor).map((s) => ({ photo: s.photo, variant: s.variant, reason: s.refused! }));
  const report: FaceEvalReport = {
    dir: o.dir,
    people: people.length,
    photos: photos.length,
    strangers: people.filter((p) => p.photos.length === 1).map((p) => p.person),
    detection: { attempted: originals.length, failed: failures.length, failures },
    verification,
    identification: ident('original'),
    thresholds: {
      model: o.model,
      measuredOn: `${basename(o.dir)} (${people.length} people, ${photos.length} photos)`,
      measuredAt: (o.now ?? (() => new Date()))().toISOString(),
      rows: verification
        .filter((v) => v.threshold !== null)
        .map((v) => ({ targetFar: v.targetFar, threshold: v.threshold!, measuredFar: v.measuredFar, impostorPairs: v.impostorPairs, tar: v.tar, genuinePairs: v.genuinePairs })),
    },
  };
  if (kinds.length) {
    const aug = pairs(augmented, originals, false);
    const detection: Record<string, { attempted: number; failed: number }> = {};
    const perKind: Record<string, VerificationPoint> = {};
    for (const kind of kinds) {
      const mine = augmented.filter((s) => s.variant === kind);
      detection[kind] = { attempted: mine.length, failed: mine.filter((s) => !s.descriptor).length };
      const p = pairs(mine, originals, false);
      perKind[kind] = verificationAtFar(p.genuine, p.impostors, fars[0]);
      report.detection.failures.push(...mine.filter((s) => !s.descriptor).map((s) => ({ photo: s.photo, variant: s.variant, reason: s.refused! })));
    }
    report.augmented = {
      kinds,
      detection,
      verification: fars.map((f) => verificationAtFar(aug.genuine, aug.impostors, f)),
      perKind,
      identification: ident('all'),
    };
  }
  return report;
}

type Tagged<T> = T & { variant: Variant };

/**
 * Mated searches: each probe against the gallery holding its person's other original photos.
 * Non-mated searches: each probe against the gallery without its person.
 */
function identificationSearches(
  index: Awaited<ReturnType<typeof createFaceIndex>>,
  people: readonly string[],
  originals: readonly Sample[],
  augmented: readonly Sample[],
): { mated: Tagged<MatedSearch>[]; nonMated: Tagged<NonMatedSearch>[] } {
  const enrolled = (person: string, except?: string) =>
    originals.filter((s) => s.person === person && s.photo !== except && s.descriptor).map((s) => s.descriptor!);
  for (const p of people) {
    const t = enrolled(p);
    if (t.length) index.add(p, t);
  }
  const mated: Tagged<MatedSearch>[] = [];
  const nonMated: Tagged<NonMatedSearch>[] = [];
  const probes = [...originals, ...augmented];
  for (const person of people) {
    const mine = probes.filter((s) => s.person === person);
    index.remove(person);
    for (const s of mine) {
      if (s.descriptor) nonMated.push({ person, variant: s.variant, candidates: index.candidates(s.descriptor, 3).list });
    }
    for (const photo of new Set(mine.map((s) => s.photo))) {
      const others = enrolled(person, photo);
      if (!others.length) continue; // a stranger: no mated search
      index.replace(person, others);
      for (const s of mine.filter((x) => x.photo === photo)) {
        mated.push({ person, variant: s.variant, top: s.descriptor ? (index.candidates(s.descriptor, 1).list[0] ?? null) : null });
      }
    }
    index.replace(person, enrolled(person));
  }
  return { mated, nonMated };
}
