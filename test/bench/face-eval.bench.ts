// Accuracy figures from the evaluation runner (`sitegate face eval`) on ../shared/faces, with the
// real embedder (face workers + enrolment path): TAR at FAR 1 % (thresholds leave-one-person-out),
// FNIR at FPIR 0 with 100,000 synthetic distractor templates in the 1:N gallery, and TAR at FAR 1 %
// on the generated degraded copies (every kind: low light, blur, JPEG q30, ±15°, hard-hat shadow).
// Skipped, with a note, when ../shared/faces is absent (a fresh clone).
import { existsSync } from 'node:fs';
import { pipelineEmbedder } from '../../dist/gate/face/eval-embedder.js';
import { runFaceEval } from '../../dist/gate/face/eval-runner.js';

const DIR = '/work/shared/faces';
const pct = (v: number) => Math.round(v * 10000) / 100;

export default async function faceEval(): Promise<Record<string, number>> {
  if (!existsSync(DIR)) {
    process.stderr.write(`bench face-eval: ${DIR} is absent, face_tar_at_far1_pct, face_fnir_at_fpir0_pct_100k and face_tar_at_far1_pct_augmented skipped\n`);
    return {};
  }
  const emb = await pipelineEmbedder(2);
  try {
    const t0 = performance.now();
    const r = await runFaceEval({ dir: DIR, embedder: emb.embedder, model: emb.model, augment: true, distractors: 100_000, fars: [0.01] });
    const far1 = r.verification[0];
    const aug = r.augmented!.verification[0];
    return {
      face_tar_at_far1_pct: pct(far1.tar),
      face_eval_genuine_pairs: far1.genuinePairs,
      face_eval_impostor_pairs: far1.impostorPairs,
      face_eval_detection_failures: r.detection.attempted ? r.detection.failures.filter((f) => f.variant === 'original').length : 0,
      face_fnir_at_fpir0_pct_100k: pct(r.identification.atFpir0.fnir),
      face_eval_mated_searches: r.identification.atFpir0.matedSearches,
      face_eval_non_mated_searches: r.identification.atFpir0.nonMatedSearches,
      face_tar_at_far1_pct_augmented: pct(aug.tar),
      face_eval_augmented_genuine_pairs: aug.genuinePairs,
      face_eval_augmented_kinds: r.augmented!.kinds.length,
      face_eval_s: Math.round((performance.now() - t0) / 100) / 10,
    };
  } finally {
    await emb.close();
  }
}
