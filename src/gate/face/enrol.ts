// Enrolment from a photo file (an ID-card-size crop included): the photo must show exactly one
// face, large and sharp enough, roughly frontal. A refused photo gets a reason a person can act on.
import { SitegateError } from '../../core/errors.js';
import type { FacePool } from './face-pool.js';
import type { ChosenFace, FaceResult } from './face-types.js';
import { decodeFrame, defaultFrameSize, type DecodedFrame, type DecodeOptions, type FrameSize } from './frame-decode.js';

export interface EnrolQuality {
  /** Eye distance in pixels of the photo. */
  minEyeDistancePx: number;
  /** Variance of the Laplacian over the aligned 150 × 150 face chip. */
  minSharpness: number;
  maxYawDeg: number;
  maxPitchDeg: number;
  maxRollDeg: number;
  /** Margin added around a photo in which no face is found at first (a tight crop), per side. */
  cropPadding: number;
  /** Faces smaller than this share of the largest face's area are ignored as background. */
  backgroundFaceShare: number;
}

export const defaultEnrolQuality: EnrolQuality = {
  minEyeDistancePx: 30,
  minSharpness: 15,
  maxYawDeg: 45,
  maxPitchDeg: 40,
  maxRollDeg: 30,
  cropPadding: 0.25,
  backgroundFaceShare: 0.25,
};

/**
 * How the gate judges a camera frame, for `sitegate face eval`'s degraded copies: the face must be
 * found at its size, but blur and pose are enrolment rules (a gate matches whatever it sees), and
 * among several faces the gate chooses one (choose-face.ts) instead of refusing: every face
 * smaller than the largest counts as background.
 */
export const probeQuality: EnrolQuality = { ...defaultEnrolQuality, minSharpness: 0, maxYawDeg: 90, maxPitchDeg: 90, maxRollDeg: 90, backgroundFaceShare: 1 };

export type EnrolRefusal = 'unreadable' | 'no_face' | 'several_faces' | 'too_small' | 'blurred' | 'pose';

export type EnrolOutcome =
  | { ok: true; descriptor: Float32Array; face: ChosenFace; padded: boolean }
  | { ok: false; reason: EnrolRefusal; message: string; faces?: number };

const refuse = (reason: EnrolRefusal, message: string, faces?: number): EnrolOutcome => ({ ok: false, reason, message, faces });

/** Checks a pipeline result against the enrolment rules. */
export function judgeEnrolment(result: FaceResult, q: EnrolQuality): EnrolOutcome | { ok: true; face: ChosenFace } {
  if (result.faces === 0) return refuse('no_face', 'no face found in the photo');
  // Faces much smaller than the largest are people in the background, not a second subject.
  const area = (b: { box: { width: number; height: number } }) => b.box.width * b.box.height;
  const largest = Math.max(...result.boxes.map(area));
  const subjects = result.boxes.filter((b) => area(b) >= q.backgroundFaceShare * largest).length;
  if (subjects > 1) return refuse('several_faces', `the photo shows ${subjects} faces; enrolment needs exactly one`, subjects);
  const face = result.chosen;
  if (!face) return refuse('too_small', 'the face is too small in the photo', 1);
  if (face.eyeDistancePx < q.minEyeDistancePx) {
    return refuse('too_small', `the face is too small: ${face.eyeDistancePx.toFixed(0)} px between the eyes in the photo, at least ${q.minEyeDistancePx} needed`, 1);
  }
  if (face.sharpness < q.minSharpness) return refuse('blurred', `the face is blurred (sharpness ${face.sharpness.toFixed(1)}, at least ${q.minSharpness} needed)`, 1);
  const { yaw, pitch, roll } = face.pose;
  if (Math.abs(yaw) > q.maxYawDeg || Math.abs(pitch) > q.maxPitchDeg || Math.abs(roll) > q.maxRollDeg) {
    return refuse('pose', `the face is not frontal enough (yaw ${yaw.toFixed(0)}°, pitch ${pitch.toFixed(0)}°, roll ${roll.toFixed(0)}°)`, 1);
  }
  return { ok: true, face };
}

/**
 * Enrols from the bytes of a photo (any format sharp reads). A photo in which no face is found,
 * or whose one face fills it, is tried once more with a grey margin around it, as an ID-card crop needs.
 */
export async function enrolFromPhoto(pool: FacePool, bytes: Uint8Array, quality: EnrolQuality = defaultEnrolQuality, size: FrameSize = defaultFrameSize): Promise<EnrolOutcome> {
  let last: DecodedFrame | undefined;
  const run = async (opts: DecodeOptions) => {
    last = await decodeFrame(bytes, size, opts);
    return pool.process(last, { options: { choose: { minEyeDistancePx: 0, nearlyLargest: 0.8 } } });
  };
  let result: FaceResult;
  let padded = false;
  try {
    result = await run({});
    // No face found, or one face filling the picture: a tight crop, which the landmark crop and
    // the aligned chip need context around.
    const fills = result.faces >= 1 && result.boxes[0].box.height >= 0.6 * size.height;
    if ((result.faces === 0 || fills) && quality.cropPadding > 0) {
      result = await run({ pad: quality.cropPadding });
      padded = true;
    } else if (result.chosen && result.chosen.eyeDistancePx < 2 * quality.minEyeDistancePx && last) {
      // A large photo whose face is small once fitted to the frame: look again at the face alone.
      const { scale, offsetX, offsetY } = last.letterbox;
      const b = result.chosen.box;
      const side = (Math.max(b.width, b.height) * 3) / scale;
      const cx = (b.x + b.width / 2 - offsetX) / scale;
      const cy = (b.y + b.height / 2 - offsetY) / scale;
      const zoomed = await run({ region: { left: cx - side / 2, top: cy - side / 2, width: side, height: side } });
      if (zoomed.chosen) result = zoomed;
    }
  } catch (err) {
    if (err instanceof SitegateError && err.code === 'frame_corrupt') return refuse('unreadable', `the photo cannot be read: ${err.message}`);
    throw err;
  }
  const judged = judgeEnrolment(result, quality);
  if (!judged.ok) return judged;
  return { ok: true, descriptor: judged.face.descriptor, face: judged.face, padded };
}
