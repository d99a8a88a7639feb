// `sitegate face eval DIR [--json]`: accuracy of the face pipeline on folders of people.
import { Command, InvalidArgumentError, Option } from 'commander';
import { SitegateError, errorMessage } from '../core/errors.js';
import type { Embedder } from '../gate/face/eval-runner.js';

export interface EvalEmbedder {
  embedder: Embedder;
  /** Names the descriptor model in the threshold table. */
  model: string;
  close(): Promise<void>;
}

export type EvalEmbedderFactory = () => Promise<EvalEmbedder>;

export const pipelineNotAvailable: EvalEmbedderFactory = async () => {
  throw new SitegateError('face_pipeline_unavailable', 'face pipeline not available: this build has no face embedder wired into `sitegate face eval`');
};

/** The face workers, loaded only when the command runs (other commands never load tfjs). */
export const facePipelineEmbedder: EvalEmbedderFactory = async () => {
  const { pipelineEmbedder } = await import('../gate/face/eval-embedder.js');
  return pipelineEmbedder();
};

/** Adds `sitegate face eval` (the `face` command is created when absent). */
export function registerFaceEval(program: Command, makeEmbedder: EvalEmbedderFactory = facePipelineEmbedder): void {
  const face = program.commands.find((c) => c.name() === 'face') ?? program.command('face').description('face matching tools');
  face
    .command('eval')
    .description('TAR at FAR, detection failures and 1:N figures from folders of people (DIR/people/<name>/N.jpg)')
    .argument('<dir>', 'directory of people folders')
    .option('--json', 'print the report as JSON (its `thresholds` is a site threshold table)')
    .option('--no-augment', 'skip the degraded copies')
    .addOption(new Option('--distractors <n>', 'synthetic distractor templates in the 1:N gallery').default(100_000).argParser(nonNegativeInt))
    .addOption(new Option('--seed <n>', 'seed of the synthetic distractors').default(1).argParser(nonNegativeInt))
    .action(async (dir: string, o: { json?: boolean; augment: boolean; distractors: number; seed: number }) => {
      let e: EvalEmbedder | undefined;
      try {
        // sharp and the WASM kernel load with the command, not with every `sitegate` run
        const [{ runFaceEval }, { formatFaceEval }] = await Promise.all([import('../gate/face/eval-runner.js'), import('../gate/face/eval-format.js')]);
        e = await makeEmbedder();
        const report = await runFaceEval({
          dir, embedder: e.embedder, model: e.model, augment: o.augment, distractors: o.distractors, seed: o.seed,
          progress: (m) => process.stderr.write(`face eval: ${m}\n`),
        });
        process.stdout.write((o.json ? JSON.stringify(report, null, 2) : formatFaceEval(report)) + '\n');
      } catch (err) {
        process.stderr.write(`sitegate face eval: ${errorMessage(err)}\n`);
        process.exitCode = 2;
      } finally {
        await e?.close();
      }
    });
}

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number ≥ 0, got "${v}"`);
  return n;
}
