// dlib-style face chips: the similarity transform (rotation, scale, shift) that best maps the 68
// landmarks' points 17–67 onto dlib's mean face shape, applied with tf.image.transform. The
// ResNet descriptor was trained on chips like these (150 × 150, padding 0.25); face-api's own
// alignment (an upright box around the landmarks) leaves roll and offsets in, and on tight
// grey-scale crops that cost a clear margin between people.
import type { Tf } from './tfjs-wasm.js';

type Tensor3D = import('@tensorflow/tfjs').Tensor3D;
type Tensor4D = import('@tensorflow/tfjs').Tensor4D;

// dlib's mean face shape (dlib/image_transforms/interpolation.h), points 17–67, unit square.
const MEAN_X = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004, 0.490127, 0.490127, 0.490127,
  0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647,
  0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159,
  0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127, 0.42689,
];
const MEAN_Y = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454, 0.203352, 0.307009,
  0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077,
  0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233,
  0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
];

export interface Similarity {
  /** chip = [a −b; b a] · frame + [tx, ty] */
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/** Least-squares similarity from the landmarks (frame pixels) to a size × size chip with `padding`. */
export function chipTransform(landmarks: Float32Array, size: number, padding: number): Similarity {
  const n = MEAN_X.length;
  const px: number[] = [];
  const py: number[] = [];
  const qx: number[] = [];
  const qy: number[] = [];
  for (let i = 0; i < n; i++) {
    px.push(landmarks[2 * (17 + i)]);
    py.push(landmarks[2 * (17 + i) + 1]);
    qx.push(((padding + MEAN_X[i]) / (2 * padding + 1)) * size);
    qy.push(((padding + MEAN_Y[i]) / (2 * padding + 1)) * size);
  }
  const avg = (v: number[]) => v.reduce((s, x) => s + x, 0) / n;
  const [mpx, mpy, mqx, mqy] = [avg(px), avg(py), avg(qx), avg(qy)];
  let num1 = 0;
  let num2 = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const ux = px[i] - mpx;
    const uy = py[i] - mpy;
    const vx = qx[i] - mqx;
    const vy = qy[i] - mqy;
    num1 += ux * vx + uy * vy;
    num2 += ux * vy - uy * vx;
    den += ux * ux + uy * uy;
  }
  const a = den > 0 ? num1 / den : 1;
  const b = den > 0 ? num2 / den : 0;
  return { a, b, tx: mqx - (a * mpx - b * mpy), ty: mqy - (b * mpx + a * mpy) };
}

/**
 * The aligned size × size chip (float 0..255) out of the frame. Caller disposes.
 *
 * `supersample` > 1 renders the chip at that multiple of its size and averages each k × k block
 * down: a face several times larger than the chip, sampled bilinearly at chip resolution, aliases
 * (hair, stubble and the grey crops' scan patterns turn into noise the descriptor sees); dlib's own
 * chip extraction low-passes the same way (it walks down an image pyramid before sampling).
 */
export function alignedChip(tf: Tf, frame: Tensor3D, landmarks: Float32Array, size = 150, padding = 0.25, supersample = 1): Tensor3D {
  const k = Math.max(1, Math.round(supersample));
  const chip = alignedChipAt(tf, frame, landmarks, size * k, padding);
  if (k === 1) return chip;
  try {
    return tf.tidy(() => tf.squeeze(tf.avgPool(tf.expandDims(chip, 0) as Tensor4D, k, k, 'valid'), [0]) as Tensor3D);
  } finally {
    chip.dispose();
  }
}

function alignedChipAt(tf: Tf, frame: Tensor3D, landmarks: Float32Array, size: number, padding: number): Tensor3D {
  const { a, b, tx, ty } = chipTransform(landmarks, size, padding);
  const k2 = a * a + b * b;
  // tf.image.transform maps each output (chip) pixel to its input (frame) pixel: the inverse.
  const inverse = [a / k2, b / k2, -(a * tx + b * ty) / k2, -b / k2, a / k2, (b * tx - a * ty) / k2, 0, 0];
  return tf.tidy(() => {
    const batch = tf.expandDims(tf.cast(frame, 'float32'), 0) as Tensor4D;
    const out = tf.image.transform(batch, tf.tensor2d([inverse]), 'bilinear', 'constant', 0, [size, size]);
    return tf.squeeze(out, [0]) as Tensor3D;
  });
}
