// Measures taken from the 68 landmarks and the face crop: eye distance, pose, sharpness.
import type { Box, Point } from './face-types.js';

function mean(landmarks: Float32Array, from: number, to: number): Point {
  let x = 0;
  let y = 0;
  for (let i = from; i <= to; i++) {
    x += landmarks[2 * i];
    y += landmarks[2 * i + 1];
  }
  const n = to - from + 1;
  return { x: x / n, y: y / n };
}

const pt = (l: Float32Array, i: number): Point => ({ x: l[2 * i], y: l[2 * i + 1] });

/** Centres of the eyes in the 68-point scheme (36–41 and 42–47: the subject's right, then left). */
export function eyeCentres(landmarks: Float32Array): [Point, Point] {
  return [mean(landmarks, 36, 41), mean(landmarks, 42, 47)];
}

export function landmarkEyeDistance(landmarks: Float32Array): number {
  const [r, l] = eyeCentres(landmarks);
  return Math.hypot(l.x - r.x, l.y - r.y);
}

/**
 * A coarse head pose from the landmarks, in degrees: roll from the eye line; yaw from where the
 * nose tip falls between the jaw ends; pitch from where it falls between the eye line and the
 * mouth (about 0.55 of the way on a frontal face). Good enough to refuse a profile photo.
 */
export function poseFromLandmarks(landmarks: Float32Array): { yaw: number; pitch: number; roll: number } {
  const [re, le] = eyeCentres(landmarks);
  const rollRad = Math.atan2(le.y - re.y, le.x - re.x);
  const cos = Math.cos(-rollRad);
  const sin = Math.sin(-rollRad);
  const derolled = (p: Point): Point => ({ x: p.x * cos - p.y * sin, y: p.x * sin + p.y * cos });
  const jawR = derolled(pt(landmarks, 0));
  const jawL = derolled(pt(landmarks, 16));
  const nose = derolled(pt(landmarks, 30));
  const eyes = derolled({ x: (re.x + le.x) / 2, y: (re.y + le.y) / 2 });
  const mouth = derolled(mean(landmarks, 48, 67));
  const across = (nose.x - jawR.x) / Math.max(1e-6, jawL.x - jawR.x);
  const yaw = (Math.asin(Math.max(-1, Math.min(1, (across - 0.5) * 2))) * 180) / Math.PI;
  const down = (nose.y - eyes.y) / Math.max(1e-6, mouth.y - eyes.y);
  const pitch = (Math.asin(Math.max(-1, Math.min(1, (down - 0.55) * 2))) * 180) / Math.PI;
  return { yaw, pitch, roll: (rollRad * 180) / Math.PI };
}

/** Variance of the 4-neighbour Laplacian of a grey image (values 0..255). */
export function laplacianVariance(grey: Float32Array | Uint8Array, width: number, height: number): number {
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const v = grey[i - 1] + grey[i + 1] + grey[i - width] + grey[i + width] - 4 * grey[i];
      sum += v;
      sumSq += v * v;
      n++;
    }
  }
  if (!n) return 0;
  const m = sum / n;
  return sumSq / n - m * m;
}

/** A square box around `box`'s centre, `scale` times its larger side. */
export function squareAround(box: Box, scale: number): Box {
  const side = Math.max(box.width, box.height) * scale;
  return { x: box.x + box.width / 2 - side / 2, y: box.y + box.height / 2 - side / 2, width: side, height: side };
}
