// BlazeFace (the "back" model shipped in @vladmandic/human): 256×256 input, 896 anchors, each a
// score logit, a box (centre offset and size, in input pixels) and six keypoints. The output is
// decoded in plain JS (896 rows), which costs less than the tensor ops would and leaks nothing.
import type { Tf } from './tfjs-wasm.js';
import type { Box, Point } from './face-types.js';

type GraphModel = import('@tensorflow/tfjs').GraphModel;
type Tensor3D = import('@tensorflow/tfjs').Tensor3D;
type Tensor = import('@tensorflow/tfjs').Tensor;

export interface DetectedFace {
  /** In frame pixels. */
  box: Box;
  score: number;
  /** BlazeFace's six keypoints in frame pixels: right eye, left eye, nose, mouth, right ear, left ear. */
  keypoints: Point[];
}

export interface DetectorOptions {
  /** Minimum detection score, 0..1. */
  minScore: number;
  /** Boxes overlapping more than this (intersection over union) are the same face. */
  iouThreshold: number;
  maxFaces: number;
}

export const defaultDetectorOptions: DetectorOptions = { minScore: 0.55, iouThreshold: 0.3, maxFaces: 20 };

function anchorsFor(size: number): Array<[number, number]> {
  const spec = { strides: [size / 16, size / 8], anchors: [2, 6] };
  const out: Array<[number, number]> = [];
  for (let s = 0; s < spec.strides.length; s++) {
    const stride = spec.strides[s];
    const cells = Math.floor((size + stride - 1) / stride);
    for (let y = 0; y < cells; y++) {
      const cy = stride * (y + 0.5);
      for (let x = 0; x < cells; x++) {
        const cx = stride * (x + 0.5);
        for (let a = 0; a < spec.anchors[s]; a++) out.push([cx, cy]);
      }
    }
  }
  return out;
}

function iou(a: Box, b: Box): number {
  const x1 = Math.max(a.x, b.x);
  const y1 = Math.max(a.y, b.y);
  const x2 = Math.min(a.x + a.width, b.x + b.width);
  const y2 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

export class BlazeFaceDetector {
  private readonly tf: Tf;
  private readonly model: GraphModel;
  private readonly size: number;
  private readonly anchors: Array<[number, number]>;

  // Plain fields, no parameter properties: worker-side files also run under Node's type stripping.
  constructor(tf: Tf, model: GraphModel) {
    this.tf = tf;
    this.model = model;
    this.size = model.inputs[0].shape?.[2] ?? 256;
    this.anchors = anchorsFor(this.size);
  }

  /** Faces in an RGB frame tensor (values 0..255), best score first. */
  async detect(frame: Tensor3D, opts: DetectorOptions = defaultDetectorOptions): Promise<DetectedFace[]> {
    const [h, w] = frame.shape;
    const { tf, size } = this;
    const out = tf.tidy(() => {
      const input = tf.image.resizeBilinear(tf.cast(frame, 'float32'), [size, size]).div(127.5).sub(1).expandDims(0);
      const res = this.model.execute(input) as Tensor | Tensor[];
      if (!Array.isArray(res)) return tf.squeeze(res);
      // This conversion has four outputs: scores and regressors for the 512 stride-16 anchors and
      // the 384 stride-32 ones; ordered by size they are 384×1, 512×1, 384×16, 512×16.
      const [s384, s512, r384, r512] = [...res].sort((a, b) => a.size - b.size);
      return tf.squeeze(tf.concat([tf.concat([s512, r512], 2), tf.concat([s384, r384], 2)], 1));
    });
    const rows = (await out.data()) as Float32Array;
    out.dispose();
    const cols = 17;
    const sx = w / size;
    const sy = h / size;
    const found: DetectedFace[] = [];
    for (let i = 0; i < this.anchors.length; i++) {
      const r = i * cols;
      const score = 1 / (1 + Math.exp(-rows[r]));
      if (score < opts.minScore) continue;
      const [ax, ay] = this.anchors[i];
      const cx = ax + rows[r + 1];
      const cy = ay + rows[r + 2];
      const bw = rows[r + 3];
      const bh = rows[r + 4];
      const keypoints: Point[] = [];
      for (let k = 0; k < 6; k++) keypoints.push({ x: (ax + rows[r + 5 + 2 * k]) * sx, y: (ay + rows[r + 6 + 2 * k]) * sy });
      found.push({ box: { x: (cx - bw / 2) * sx, y: (cy - bh / 2) * sy, width: bw * sx, height: bh * sy }, score, keypoints });
    }
    found.sort((a, b) => b.score - a.score);
    const kept: DetectedFace[] = [];
    for (const f of found) {
      if (kept.length >= opts.maxFaces) break;
      if (kept.every((k) => iou(k.box, f.box) <= opts.iouThreshold)) kept.push(f);
    }
    return kept;
  }
}
