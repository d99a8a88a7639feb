import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pipelineNotAvailable, registerFaceEval } from '../../src/cli/face-eval.js';
import { AUGMENTATIONS } from '../../src/gate/face/augment.js';
import { formatFaceEval } from '../../src/gate/face/eval-format.js';
import { runFaceEval, type Embedder, type FaceEvalReport } from '../../src/gate/face/eval-runner.js';
import { thresholdTableSchema } from '../../src/gate/face/index-thresholds.js';
import { jitter, randomUnit, seededRandom } from './vectors.js';

// Four people with 3 photos, one with 1 (a stranger); each photo has its own size, which the stub
// embedder uses to know which photo (or degraded copy of it) it is shown.
const PEOPLE = { ann: 3, bob: 3, cat: 3, dan: 3, eve: 1 };
let dir: string;
const sizes = new Map<string, { w: number; h: number; person: string }>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'face-eval-'));
  let k = 0;
  for (const [person, n] of Object.entries(PEOPLE)) {
    mkdirSync(join(dir, 'people', person), { recursive: true });
    for (let i = 1; i <= n; i++, k++) {
      const w = 40 + 6 * k, h = 60 + 4 * k;
      const file = join(dir, 'people', person, `${i}.${i === 2 ? 'png' : 'jpg'}`);
      await sharp({ create: { width: w, height: h, channels: 3, background: { r: 20 * k, g: 100, b: 50 } } }).toFile(file);
      sizes.set(file, { w, h, person });
    }
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stubEmbedder(refuse: string): Embedder & { calls: number; probes: number } {
  const rnd = seededRandom(1);
  const base = new Map(Object.keys(PEOPLE).map((p) => [p, randomUnit(rnd)]));
  const photo = new Map([...sizes].map(([file, s]) => [file, jitter(base.get(s.person)!, 0.5, rnd)]));
  const stub = {
    calls: 0,
    probes: 0,
    async probe(input: string | Buffer) {
      stub.probes++;
      return stub.describe(input);
    },
    async embed(input: string | Buffer) {
      stub.calls++;
      return stub.describe(input);
    },
    async describe(input: string | Buffer) {
      const { width, height } = await sharp(input).metadata();
      const rad = (15 * Math.PI) / 180;
      const all = [...sizes];
      const file = (all.find(([, s]) => s.w === width && s.h === height) ??
        all.find(([, s]) => Math.abs(s.w * Math.cos(rad) + s.h * Math.sin(rad) - width) < 2 && Math.abs(s.w * Math.sin(rad) + s.h * Math.cos(rad) - height) < 2))?.[0];
      if (!file) throw new Error(`unknown image ${width}×${height}`);
      if (file.endsWith(refuse)) return { refused: 'face too small' };
      return { descriptor: typeof input === 'string' ? photo.get(file)! : jitter(photo.get(file)!, 0.1, rnd) };
    },
  };
  return stub;
}

describe('face evaluation runner', () => {
  let report: FaceEvalReport;
  let calls = 0;
  let probes = 0;
  beforeAll(async () => {
    const e = stubEmbedder(join('dan', '3.jpg'));
    report = await runFaceEval({ dir, embedder: e, model: 'stub', distractors: 2000, seed: 3, now: () => new Date('2025-06-01T00:00:00Z') });
    calls = e.calls;
    probes = e.probes;
  }, 60_000);

  it('embeds every photo as a reference and probes every degraded copy of it', () => {
    expect(calls).toBe(13);
    expect(probes).toBe(13 * AUGMENTATIONS.length);
    expect(report).toMatchObject({ people: 5, photos: 13, strangers: ['eve'] });
    expect(report.detection.attempted).toBe(13);
    expect(report.detection.failed).toBe(1);
    expect(report.detection.failures.filter((f) => f.variant === 'original')).toEqual([
      { photo: join(dir, 'people', 'dan', '3.jpg'), variant: 'original', reason: 'face too small' },
    ]);
    expect(report.augmented!.detection.blur).toEqual({ attempted: 13, failed: 1 });
  });

  it('counts the pairs behind every rate', () => {
    // Genuine: 4 people × 3 pairs; dan's two pairs with his refused photo have no descriptor.
    // Impostor: pairs of different people among the 12 photos with descriptors
    // (ann 3, bob 3, cat 3, dan 2, eve 1) = 66 − (3 + 3 + 3 + 1) = 56.
    const v = report.verification[0];
    expect(v).toMatchObject({ targetFar: 0.01, genuinePairs: 12, genuineWithoutDescriptor: 2, impostorPairs: 56 });
    expect(v.accepted).toBe(10); // well-separated stub descriptors: every pair with descriptors passes
    expect(report.verification[1].resolvable).toBe(false); // 0.1 % of 56 pairs is below one pair
  });

  it('searches a gallery padded with labelled synthetic distractors', () => {
    const id = report.identification;
    expect(id.distractors).toMatchObject({ count: 2000, synthetic: true, seed: 3 });
    // Mated: every photo of the four people with ≥ 2 photos (dan's refused one a miss); non-mated: the 12 with descriptors.
    expect(id.atFpir0).toMatchObject({ matedSearches: 12, nonMatedSearches: 12, misses: 1 });
    expect(id.atSmallestFpir.fpir).toBeCloseTo(1 / 12, 12);
    const all = report.augmented!.identification;
    expect(all.atFpir0.matedSearches).toBe(12 * 7);
    expect(all.atFpir0.nonMatedSearches).toBe(12 * 7);
  });

  it('scores degraded copies against the original photos', () => {
    const a = report.augmented!;
    // Each copy of a photo pairs with its person's other original photos: 4 people × 3 × 2 per kind.
    expect(a.perKind.jpeg_q30.genuinePairs).toBe(24);
    expect(a.verification[0].genuinePairs).toBe(24 * AUGMENTATIONS.length);
  });

  it('fills a threshold table that parses and prints in 80 columns', () => {
    const t = thresholdTableSchema.parse(report.thresholds);
    expect(t.rows[0]).toMatchObject({ targetFar: 0.01, impostorPairs: 56, genuinePairs: 12 });
    expect(t.measuredAt).toBe('2025-06-01T00:00:00.000Z');
    const text = formatFaceEval(report);
    expect(text).toContain('SYNTHETIC distractors');
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  });
});

describe('sitegate face eval', () => {
  async function run(args: string[], factory?: Parameters<typeof registerFaceEval>[1]) {
    const program = new Command().exitOverride();
    registerFaceEval(program, factory);
    const out: string[] = [], err: string[] = [];
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    const before = process.exitCode;
    try {
      await program.parseAsync(['node', 'sitegate', 'face', 'eval', ...args]);
      return { code: process.exitCode, out: out.join(''), err: err.join('') };
    } finally {
      o.mockRestore();
      e.mockRestore();
      process.exitCode = before;
    }
  }

  it('says so when the face pipeline is not available', async () => {
    const r = await run([dir], pipelineNotAvailable);
    expect(r.code).toBe(2);
    expect(r.err).toContain('face pipeline not available');
  });

  it('prints the report as JSON with an embedder plugged in', async () => {
    let closed = false;
    const r = await run([dir, '--json', '--no-augment', '--distractors', '500'], async () => ({
      embedder: stubEmbedder('none'), model: 'stub', close: async () => void (closed = true),
    }));
    expect(r.code).toBeUndefined();
    const rep = JSON.parse(r.out) as FaceEvalReport;
    expect(rep.identification.distractors.count).toBe(500);
    expect(rep.augmented).toBeUndefined();
    expect(rep.detection.failed).toBe(0);
    expect(closed).toBe(true);
  });

  it('refuses a directory without people folders', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'face-eval-empty-'));
    try {
      const r = await run([empty], async () => ({ embedder: stubEmbedder('none'), model: 'stub', close: async () => {} }));
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/at least 2 are needed/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
