import { z } from 'zod';
import { MAX_PHOTO_BASE64_CHARS } from './photos.js';

/**
 * Enrolment at a gate. The operator's CLI sends `capture-face` to `gate/<gateId>/cmd`; the gate's
 * face station answers on `gate/<gateId>/enrol` (QoS 1, never retained) with the template and
 * photo of the next good face, or with why it found none. The hub stores an answer only for a
 * request it has on record for that gate and worker, then says what it did on `hub/enrol`.
 * Templates travel only on these gate topics, which the broker's ACL keeps to the hub and the gate.
 */

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const base64 = (max: number) => z.string().min(4).max(max).regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64');
/** A template as the roster carries it (face-templates.ts): 512 bytes, 684 base64 characters. */
const template = base64(684).length(684, 'a face template is 684 base64 characters (512 bytes)');

export const ENROL_FAILURE_CODES = ['timeout', 'stopped', 'replaced'] as const;

const enrolCommon = {
  v: z.literal(1),
  requestId: id,
  workerId: id,
  gateId: id,
  atMs: z.number().int(),
};

/** Payload of gate/<gateId>/enrol. */
export const faceEnrolMessageSchema = z.discriminatedUnion('ok', [
  z.strictObject({
    ...enrolCommon,
    ok: z.literal(true),
    template,
    /** the embedder that made the template (model file and version) */
    modelId: z.string().min(1).max(128),
    photo: z.strictObject({ sha256: z.string().regex(/^[0-9a-f]{64}$/), jpegBase64: base64(MAX_PHOTO_BASE64_CHARS) }),
    /** what the quality checks measured on the captured face */
    quality: z.strictObject({
      eyeDistancePx: z.number().nonnegative(),
      sharpness: z.number().nonnegative(),
      yaw: z.number(),
      pitch: z.number(),
      roll: z.number(),
      antispoof: z.number().min(0).max(1),
      liveness: z.number().min(0).max(1),
    }),
  }),
  z.strictObject({
    ...enrolCommon,
    ok: z.literal(false),
    /** timeout: no good face in time; stopped: the gate stopped; replaced: a newer request took the camera */
    code: z.enum(ENROL_FAILURE_CODES),
    message: z.string().max(500),
  }),
]);
export type FaceEnrolMessage = z.infer<typeof faceEnrolMessageSchema>;

export const ENROL_RESULT_CODES = ['stored', 'timeout', 'stopped', 'replaced', 'bad_template', 'bad_photo', 'not_requested', 'failed'] as const;

/** Payload of hub/enrol: what the hub did with a gate's answer (no template, no photo). */
export const faceEnrolResultSchema = z.strictObject({
  v: z.literal(1),
  requestId: id,
  workerId: id,
  gateId: id,
  ok: z.boolean(),
  code: z.enum(ENROL_RESULT_CODES),
  message: z.string().max(500),
  /** the stored enrolment and the registry version that carries it to the gates */
  faceId: z.string().max(80).nullable(),
  version: z.number().int().nullable(),
  atMs: z.number().int(),
});
export type FaceEnrolResult = z.infer<typeof faceEnrolResultSchema>;
