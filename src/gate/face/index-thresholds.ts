// A site's face thresholds, each with the false-accept rate it was measured to give and the
// pair counts behind that measurement. `sitegate face eval --json` fills one (`thresholds`).
import { z } from 'zod';
import { SitegateError } from '../../core/errors.js';

export const thresholdRowSchema = z.object({
  /** The FAR the threshold was chosen for. */
  targetFar: z.number().gt(0).lt(1),
  /** A match score (match-threshold.ts); a match needs a score strictly above it. */
  threshold: z.number().min(-2).max(1),
  /** FAR measured leave-one-person-out at this target, and the impostor pairs behind it. */
  measuredFar: z.number().min(0).max(1),
  impostorPairs: z.number().int().nonnegative(),
  /** TAR measured leave-one-person-out, and the genuine pairs behind it. */
  tar: z.number().min(0).max(1),
  genuinePairs: z.number().int().nonnegative(),
});

export const thresholdTableSchema = z.object({
  /** What produced the descriptors, e.g. "face-api 1.7.15 faceRecognitionNet". */
  model: z.string().min(1),
  /** The image set measured, e.g. "../shared/faces (13 people, 54 photos)". */
  measuredOn: z.string().min(1),
  measuredAt: z.string().min(1),
  rows: z.array(thresholdRowSchema).min(1),
});

export type ThresholdRow = z.infer<typeof thresholdRowSchema>;
export type ThresholdTable = z.infer<typeof thresholdTableSchema>;

/** The row measured for the largest target FAR not above `maxFar` (the most permissive allowed). */
export function thresholdForFar(table: ThresholdTable, maxFar: number): ThresholdRow {
  const rows = table.rows.filter((r) => r.targetFar <= maxFar + 1e-12).sort((a, b) => b.targetFar - a.targetFar);
  if (!rows.length) {
    throw new SitegateError('face_threshold', `no face threshold measured for a FAR of ${maxFar} or less (measured: ${table.rows.map((r) => r.targetFar).join(', ')})`);
  }
  return rows[0];
}
