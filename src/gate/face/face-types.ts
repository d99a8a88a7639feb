// Shapes shared by the face pipeline, its worker and the main thread (plain data: they cross
// worker_threads by structured clone).

export interface Point {
  x: number;
  y: number;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A decoded frame: packed RGB bytes, row-major, width × height × 3. */
export interface RgbFrame {
  width: number;
  height: number;
  data: Uint8Array;
  /**
   * Frame pixels per pixel of the picture it was made from (letterboxing scales): face sizes are
   * judged in the source's pixels, since upscaling a small picture adds no detail. Default 1.
   */
  scale?: number;
}

export type FaceRefusal = 'no_face' | 'too_small' | 'not_centred' | 'no_ir_face';

export interface LivenessScores {
  /** human's antispoof.json: 0 (spoof) .. 1 (real). */
  antispoof: number;
  /** human's liveness.json: 0 (still/spoof) .. 1 (live). */
  liveness: number;
}

export interface ChosenFace {
  box: Box;
  /** 68 points, x then y, in frame pixels. */
  landmarks: Float32Array;
  /** 128 values at DESCRIPTOR_SCALE (match-threshold.ts). */
  descriptor: Float32Array;
  /** Between the eye centres, in pixels of the source picture (frame pixels / frame.scale). */
  eyeDistancePx: number;
  detScore: number;
  liveness: LivenessScores;
  /** Pose estimated from the landmarks, degrees. */
  pose: { yaw: number; pitch: number; roll: number };
  /** Variance of the Laplacian over the aligned face crop: low means blurred. */
  sharpness: number;
}

export interface FaceTimings {
  detectMs: number;
  landmarksMs: number;
  embedMs: number;
  livenessMs: number;
  totalMs: number;
}

export interface FaceResult {
  /** Faces the detector found in the frame. */
  faces: number;
  chosen?: ChosenFace;
  refused?: FaceRefusal;
  /** Faces found in the IR frame, when one was given. */
  irFaces?: number;
  /** Every detected face's box and score (always), for counting and drawing. */
  boxes: Array<{ box: Box; score: number }>;
  timings: FaceTimings;
}
