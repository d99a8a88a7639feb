// Synthetic 68-point landmark shapes (iBUG order) for the motion-liveness tests. "Live" here is
// synthetic: no live video exists on this machine, so a blink or mouth movement is made by moving
// landmarks of one fixed face, as a landmark-driven warp of one photo would.
import type { LivenessFrame } from '../../src/gate/face/motion-liveness.js';
import { seededRandom } from '../../src/gate/face/distractors.js';

export interface FaceParams {
  /** Eye closure 0 (open) … 1 (closed). */
  closure?: number;
  /** Inner-mouth opening, inter-ocular distances. */
  mouth?: number;
  /** Per-photo shape changes: jaw width, brow height, nose length, face height, yaw-like skew. */
  jaw?: number;
  brow?: number;
  nose?: number;
  height?: number;
  skew?: number;
  /** Smile: mouth wider and its corners raised, inter-ocular distances. */
  smile?: number;
}

/** A face in units of the inter-ocular distance, centred between the eyes. */
export function faceShape(p: FaceParams = {}): Float64Array {
  const out = new Float64Array(136);
  const set = (i: number, x: number, y: number) => {
    out[2 * i] = x + (p.skew ?? 0) * y * y;
    out[2 * i + 1] = y;
  };
  const jaw = 1.05 + (p.jaw ?? 0);
  const h = 1.6 + (p.height ?? 0);
  for (let i = 0; i <= 16; i++) {
    const a = Math.PI * (i / 16);
    set(i, -jaw * Math.cos(a), 0.1 + (h - 0.1) * Math.sin(a) ** 1.3);
  }
  const brow = -0.35 - (p.brow ?? 0);
  for (let i = 0; i < 5; i++) {
    set(17 + i, -0.85 + i * 0.17, brow - 0.08 * Math.sin((Math.PI * i) / 4));
    set(22 + i, 0.17 + i * 0.17, brow - 0.08 * Math.sin((Math.PI * i) / 4));
  }
  const nose = 0.75 + (p.nose ?? 0);
  for (let i = 0; i < 4; i++) set(27 + i, 0, 0.05 + (nose - 0.1) * (i / 3));
  for (let i = 0; i < 5; i++) set(31 + i, -0.2 + i * 0.1, nose + 0.05 - 0.04 * Math.sin((Math.PI * i) / 4));
  const open = 0.11 * (1 - (p.closure ?? 0));
  const eye = (first: number, cx: number) => {
    set(first, cx - 0.22, 0);
    set(first + 1, cx - 0.08, -open);
    set(first + 2, cx + 0.08, -open);
    set(first + 3, cx + 0.22, 0);
    set(first + 4, cx + 0.08, open * 0.8);
    set(first + 5, cx - 0.08, open * 0.8);
  };
  eye(36, -0.5);
  eye(42, 0.5);
  const my = nose + 0.45;
  const m = p.mouth ?? 0;
  for (let i = 0; i < 12; i++) {
    const a = (2 * Math.PI * i) / 12;
    const y = -Math.sin(a) * 0.12;
    set(48 + i, -0.45 * Math.cos(a), my + y + (y > 0 ? m : 0));
  }
  const inner = [[-0.35, 0], [-0.15, -0.03], [0, -0.035], [0.15, -0.03], [0.35, 0], [0.15, 0.03], [0, 0.035], [-0.15, 0.03]];
  inner.forEach(([x, y], i) => set(60 + i, x, my + y + (i > 4 ? m : 0)));
  for (let i = 5; i <= 11; i++) out[2 * i + 1] += m * Math.sin((Math.PI * (i - 5)) / 6) * 0.8;
  const smile = p.smile ?? 0;
  for (let i = 48; i <= 67; i++) {
    const x = out[2 * i];
    out[2 * i] = x * (1 + smile);
    out[2 * i + 1] -= smile * 0.5 * (x / 0.45) ** 2;
  }
  return out;
}

export interface Pose {
  dx?: number;
  dy?: number;
  scale?: number;
  rot?: number;
}

/** Places a shape in a 640×480 frame (inter-ocular distance 60 px × scale) with Gaussian pixel noise. */
export function frame(shape: Float64Array, pose: Pose = {}, noisePx = 0, rnd = seededRandom(1), descriptor?: Float32Array): LivenessFrame {
  const s = 60 * (pose.scale ?? 1);
  const c = Math.cos(pose.rot ?? 0), sn = Math.sin(pose.rot ?? 0);
  const pts = new Float32Array(136);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  for (let i = 0; i < 68; i++) {
    const x = shape[2 * i] * s, y = shape[2 * i + 1] * s;
    pts[2 * i] = 320 + (pose.dx ?? 0) + c * x - sn * y + noisePx * gauss();
    pts[2 * i + 1] = 220 + (pose.dy ?? 0) + sn * x + c * y + noisePx * gauss();
  }
  return { landmarks: pts, box: { x: 320 + (pose.dx ?? 0) - 1.2 * s, y: 220 + (pose.dy ?? 0) - 0.8 * s, width: 2.4 * s, height: 2.8 * s }, descriptor };
}
