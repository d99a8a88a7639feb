// Which detected face the gate acts on: the largest, and among faces nearly as large the one
// nearest the frame's centre; refused as too small when its eyes are closer than the configured
// minimum (the person stands too far from the camera).
import type { DetectedFace } from './detector.js';
import type { FaceRefusal } from './face-types.js';

export interface ChooseOptions {
  /** Minimum distance between the eye centres, in pixels of the source picture (camera or photo). */
  minEyeDistancePx: number;
  /** Faces with at least this share of the largest face's area compete on centredness. */
  nearlyLargest: number;
}

export const defaultChooseOptions: ChooseOptions = { minEyeDistancePx: 40, nearlyLargest: 0.8 };

export function eyeDistance(face: DetectedFace): number {
  const [r, l] = face.keypoints;
  return Math.hypot(l.x - r.x, l.y - r.y);
}

export function chooseFace(
  faces: readonly DetectedFace[],
  frame: { width: number; height: number; scale?: number },
  opts: ChooseOptions,
): { face: DetectedFace; eyeDistancePx: number } | { refused: FaceRefusal } {
  if (!faces.length) return { refused: 'no_face' };
  const area = (f: DetectedFace) => f.box.width * f.box.height;
  const largest = Math.max(...faces.map(area));
  const offCentre = (f: DetectedFace) =>
    Math.hypot(f.box.x + f.box.width / 2 - frame.width / 2, f.box.y + f.box.height / 2 - frame.height / 2);
  const face = faces.filter((f) => area(f) >= opts.nearlyLargest * largest).sort((a, b) => offCentre(a) - offCentre(b))[0];
  const eyeDistancePx = eyeDistance(face) / (frame.scale ?? 1);
  if (eyeDistancePx < opts.minEyeDistancePx) return { refused: 'too_small' };
  return { face, eyeDistancePx };
}
