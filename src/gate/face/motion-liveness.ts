// Multi-frame liveness over a short burst: does the face change shape (blink, mouth, micro-motion)
// the way a live face does, or only move as a flat picture does?
//
// Each frame's 68 landmarks are mapped onto the first frame's by the least-squares affine map of
// the rigid "anchor" points (nose, eye corners, upper jaw). A flat picture moved, scaled, rotated
// or tilted (weak perspective) is an affine image of itself, so what remains is detector noise;
// eyelids and lips moving are not. The noise level is measured on the anchors themselves, so a
// noisy detector raises every bar. A slideshow of different photos of one person shows up as a
// jump: the whole face's shape (brows, contour, nose), or the descriptor, changes in one step;
// a live face changes locally (eyes or mouth) and keeps its identity from frame to frame.
// Pure: no clock, no I/O; the caller chooses the burst.

export interface LandmarkPoint {
  x: number;
  y: number;
}

export interface LivenessFrame {
  /** 68 points (iBUG order) in frame pixels: 136 numbers x0,y0,x1,y1… or 68 {x,y}. */
  landmarks: Float32Array | readonly number[] | readonly LandmarkPoint[];
  /** The detector's face box, frame pixels; landmarks whose eyes fall outside it are refused. */
  box: { x: number; y: number; width: number; height: number };
  /** The frame's face descriptor: needed to see a slideshow whose photos differ only in eyes or mouth. */
  descriptor?: Float32Array;
}

export interface MotionLivenessOptions {
  /** Fewest frames judged (default 5). */
  minFrames: number;
  /** Noise multiple a single measure (eye or mouth ratio) must exceed (default 4). */
  noiseK: number;
  /** Noise multiple an RMS over a region's points must exceed: such an RMS varies little from noise alone (default 2). */
  rmsK: number;
  /** A blink: eye aspect ratio falls by this share of its median (default 0.3). */
  blinkDrop: number;
  /** Mouth movement: inner-mouth aspect ratio range at least this (default 0.15). */
  mouthRange: number;
  /** Micro-motion: RMS non-rigid displacement of the eyes or mouth, in inter-ocular distances (default 0.03)… */
  microFloor: number;
  /** …in at least this many frames (default 2). */
  microFrames: number;
  /** A jump: the RMS shape change of brows, contour and nose between two frames, in inter-ocular distances (default 0.05). */
  jumpFloor: number;
  /** A jump: cosine distance between two consecutive descriptors (default 0.06). */
  descriptorJump: number;
  /** Still rather than moved: anchors moved less than this, in inter-ocular distances (default 0.02). */
  stillFloor: number;
  /**
   * Whether non-rigid micro-motion alone proves a live face (default false): on real landmarks a
   * photo moved and resampled makes the eye and mouth points jitter past the bar, so only a blink
   * or a mouth movement counts unless a site opts in.
   */
  microMotionIsLive: boolean;
}

export const MOTION_LIVENESS_DEFAULTS: Readonly<MotionLivenessOptions> = {
  minFrames: 5,
  noiseK: 4,
  rmsK: 2,
  blinkDrop: 0.3,
  mouthRange: 0.15,
  microFloor: 0.03,
  microFrames: 2,
  jumpFloor: 0.05,
  descriptorJump: 0.06,
  stillFloor: 0.02,
  microMotionIsLive: false,
};

export type MotionLivenessReason =
  | 'blink' | 'mouth_movement' | 'micro_motion'
  | 'still' | 'rigid_motion_only' | 'identity_jump' | 'too_few_frames' | 'bad_landmarks';

export interface MotionLivenessScores {
  frames: number;
  /** Inter-ocular distance of the first frame, pixels. */
  iodPx: number;
  /** Landmark noise per coordinate, inter-ocular distances (measured on the anchors). */
  noise: number;
  earMedian: number;
  earDrop: number;
  earDropNeeded: number;
  mouthRange: number;
  mouthRangeNeeded: number;
  microMotionFrames: number;
  microMotionNeeded: number;
  maxShapeStep: number;
  shapeStepNeeded: number;
  /** Largest cosine distance between consecutive descriptors (absent without descriptors). */
  maxDescriptorStep?: number;
  rigidMotion: number;
}

export interface MotionLivenessResult {
  live: boolean;
  reason: MotionLivenessReason;
  scores?: MotionLivenessScores;
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
const ANCHORS = [0, 1, 15, 16, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45];
const EYES = range(36, 47);
const MOUTH = range(48, 67);
const REST = [...range(0, 4), ...range(12, 16), ...range(17, 26), ...range(27, 35)];

/** Judges a burst of frames of one face (oldest first). */
export function motionLiveness(frames: readonly LivenessFrame[], options: Partial<MotionLivenessOptions> = {}): MotionLivenessResult {
  const o = { ...MOTION_LIVENESS_DEFAULTS, ...options };
  if (frames.length < o.minFrames) return { live: false, reason: 'too_few_frames' };
  const shapes = frames.map((f) => toPoints(f.landmarks));
  if (shapes.some((s) => s === null)) return { live: false, reason: 'bad_landmarks' };
  const pts = shapes as Float64Array[];
  if (pts.some((p, f) => !eyesInBox(p, frames[f].box))) return { live: false, reason: 'bad_landmarks' };
  const ref = pts[0];
  const iodPx = Math.hypot(...sub(centre(ref, range(42, 47)), centre(ref, range(36, 41))));
  if (!(iodPx >= 4)) return { live: false, reason: 'bad_landmarks' };

  // Residuals after the anchor affine map, in inter-ocular distances.
  const residuals: Float64Array[] = [];
  const noiseEstimates: number[] = [];
  for (let f = 1; f < pts.length; f++) {
    const aligned = applyAffine(fitAffine(pts[f], ref, ANCHORS), pts[f]);
    const r = new Float64Array(136);
    for (let i = 0; i < 136; i++) r[i] = (aligned[i] - ref[i]) / iodPx;
    residuals.push(r);
  }
  const zero = new Float64Array(136);
  const resid = (f: number) => (f === 0 ? zero : residuals[f - 1]);
  // Noise from consecutive frames' anchors (a jump between photos is one step, the median ignores
  // it): each step is the difference of two noisy points (variance 2σ² per coordinate), and the
  // fit took 6 of the 2·n degrees of freedom.
  for (let f = 1; f < pts.length; f++) {
    noiseEstimates.push(Math.sqrt(sumSqDiff(resid(f), resid(f - 1), ANCHORS) / (2 * ANCHORS.length - 6) / 2));
  }
  const noise = median(noiseEstimates);

  const ears = pts.map(ear);
  const mars = pts.map(mar);
  const earMedian = median(ears);
  const eyeWidth = median(pts.map((p) => (dist(p, 36, 39) + dist(p, 42, 45)) / 2)) / iodPx;
  const mouthWidth = median(pts.map((p) => dist(p, 60, 64))) / iodPx;
  const earDrop = earMedian - Math.min(...ears);
  const earDropNeeded = Math.max(o.blinkDrop * earMedian, (o.noiseK * noise) / Math.max(eyeWidth, 1e-6));
  const mouthRange = Math.max(...mars) - Math.min(...mars);
  const mouthRangeNeeded = Math.max(o.mouthRange, (o.noiseK * noise * 2) / Math.max(mouthWidth, 1e-6));

  // A residual over a region is ≈ 2σ RMS from noise alone (two noisy shapes, two coordinates).
  const microMotionNeeded = Math.max(o.microFloor, o.rmsK * 2 * noise);
  let microMotionFrames = 0;
  for (let f = 1; f < pts.length; f++) {
    if (Math.max(rms(resid(f), EYES), rms(resid(f), MOUTH)) > microMotionNeeded) microMotionFrames++;
  }

  const shapeStepNeeded = Math.max(o.jumpFloor, o.rmsK * 2 * noise);
  let maxShapeStep = 0;
  for (let f = 1; f < pts.length; f++) maxShapeStep = Math.max(maxShapeStep, rmsDiff(resid(f), resid(f - 1), REST));

  let maxDescriptorStep: number | undefined;
  const descriptors = frames.map((f) => f.descriptor);
  if (descriptors.every((d) => d !== undefined && d.length > 0)) {
    maxDescriptorStep = 0;
    for (let f = 1; f < descriptors.length; f++) maxDescriptorStep = Math.max(maxDescriptorStep, 1 - cosine(descriptors[f - 1]!, descriptors[f]!));
  }

  let rigidMotion = 0;
  for (let f = 1; f < pts.length; f++) {
    let s = 0;
    for (const i of ANCHORS) s += (pts[f][2 * i] - ref[2 * i]) ** 2 + (pts[f][2 * i + 1] - ref[2 * i + 1]) ** 2;
    rigidMotion = Math.max(rigidMotion, Math.sqrt(s / ANCHORS.length) / iodPx);
  }

  const scores: MotionLivenessScores = {
    frames: frames.length, iodPx, noise,
    earMedian, earDrop, earDropNeeded, mouthRange, mouthRangeNeeded,
    microMotionFrames, microMotionNeeded: o.microFrames, maxShapeStep, shapeStepNeeded,
    ...(maxDescriptorStep !== undefined ? { maxDescriptorStep } : {}),
    rigidMotion,
  };
  const verdict = (live: boolean, reason: MotionLivenessReason): MotionLivenessResult => ({ live, reason, scores });
  if (maxShapeStep > shapeStepNeeded || (maxDescriptorStep ?? 0) > o.descriptorJump) return verdict(false, 'identity_jump');
  if (earDrop >= earDropNeeded) return verdict(true, 'blink');
  if (mouthRange >= mouthRangeNeeded) return verdict(true, 'mouth_movement');
  if (o.microMotionIsLive && microMotionFrames >= o.microFrames) return verdict(true, 'micro_motion');
  return verdict(false, rigidMotion < o.stillFloor + o.rmsK * 2 * noise ? 'still' : 'rigid_motion_only');
}

/** The landmarks belong to the box's face: both eye centres inside the box (grown by a quarter). */
function eyesInBox(p: Float64Array, b: LivenessFrame['box']): boolean {
  const gx = b.width / 4, gy = b.height / 4;
  return [range(36, 41), range(42, 47)].every((eye) => {
    const [x, y] = centre(p, eye);
    return x >= b.x - gx && x <= b.x + b.width + gx && y >= b.y - gy && y <= b.y + b.height + gy;
  });
}

function toPoints(l: LivenessFrame['landmarks']): Float64Array | null {
  const out = new Float64Array(136);
  if (l.length === 68 && typeof l[0] === 'object') {
    (l as readonly LandmarkPoint[]).forEach((p, i) => {
      out[2 * i] = p?.x;
      out[2 * i + 1] = p?.y;
    });
  } else if (l.length === 136) {
    for (let i = 0; i < 136; i++) out[i] = Number((l as ArrayLike<number>)[i]);
  } else return null;
  return out.every(Number.isFinite) ? out : null;
}

/** Least-squares affine map taking `from`'s points at `idx` onto `to`'s: [a, b, c, d, e, f], x' = ax + by + c, y' = dx + ey + f. */
export function fitAffine(from: Float64Array, to: Float64Array, idx: readonly number[]): number[] {
  let sxx = 0, sxy = 0, syy = 0, sx = 0, sy = 0;
  let ux = 0, vx = 0, wx = 0, uy = 0, vy = 0, wy = 0;
  for (const i of idx) {
    const x = from[2 * i], y = from[2 * i + 1], X = to[2 * i], Y = to[2 * i + 1];
    sxx += x * x; sxy += x * y; syy += y * y; sx += x; sy += y;
    ux += x * X; vx += y * X; wx += X;
    uy += x * Y; vy += y * Y; wy += Y;
  }
  const m = [[sxx, sxy, sx], [sxy, syy, sy], [sx, sy, idx.length]];
  return [...solve3(m, [ux, vx, wx]), ...solve3(m, [uy, vy, wy])];
}

function solve3(m: number[][], b: number[]): number[] {
  const det = (a: number[][]) =>
    a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  const d = det(m);
  if (Math.abs(d) < 1e-12) return [1, 0, 0];
  return [0, 1, 2].map((c) => det(m.map((row, r) => row.map((v, k) => (k === c ? b[r] : v)))) / d);
}

function applyAffine(t: number[], p: Float64Array): Float64Array {
  const out = new Float64Array(p.length);
  for (let i = 0; i < p.length; i += 2) {
    out[i] = t[0] * p[i] + t[1] * p[i + 1] + t[2];
    out[i + 1] = t[3] * p[i] + t[4] * p[i + 1] + t[5];
  }
  return out;
}

const dist = (p: Float64Array, a: number, b: number) => Math.hypot(p[2 * a] - p[2 * b], p[2 * a + 1] - p[2 * b + 1]);

/** Eye aspect ratio, both eyes averaged: (|37−41| + |38−40|) / 2|36−39|. */
function ear(p: Float64Array): number {
  const one = (o: number) => (dist(p, o + 1, o + 5) + dist(p, o + 2, o + 4)) / (2 * dist(p, o, o + 3) || 1);
  return (one(36) + one(42)) / 2;
}

/** Inner-mouth aspect ratio: (|61−67| + |62−66| + |63−65|) / 2|60−64|. */
function mar(p: Float64Array): number {
  return (dist(p, 61, 67) + dist(p, 62, 66) + dist(p, 63, 65)) / (2 * dist(p, 60, 64) || 1);
}

function centre(p: Float64Array, idx: readonly number[]): [number, number] {
  let x = 0, y = 0;
  for (const i of idx) {
    x += p[2 * i];
    y += p[2 * i + 1];
  }
  return [x / idx.length, y / idx.length];
}

const sub = (a: [number, number], b: [number, number]): [number, number] => [a[0] - b[0], a[1] - b[1]];

function sumSq(r: Float64Array, idx: readonly number[]): number {
  let s = 0;
  for (const i of idx) s += r[2 * i] ** 2 + r[2 * i + 1] ** 2;
  return s;
}

const rms = (r: Float64Array, idx: readonly number[]) => Math.sqrt(sumSq(r, idx) / idx.length);

function sumSqDiff(a: Float64Array, b: Float64Array, idx: readonly number[]): number {
  let s = 0;
  for (const i of idx) s += (a[2 * i] - b[2 * i]) ** 2 + (a[2 * i + 1] - b[2 * i + 1]) ** 2;
  return s;
}

const rmsDiff = (a: Float64Array, b: Float64Array, idx: readonly number[]) => Math.sqrt(sumSqDiff(a, b, idx) / idx.length);

function median(v: readonly number[]): number {
  if (!v.length) return 0;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / (Math.sqrt(aa * bb) || 1);
}
