// face-api's 68-point landmark network on a square crop around the detector's box, mapped back
// to frame pixels.
import { cropBox } from './crop.js';
import type { FaceApi } from './face-api-host.js';
import type { Box } from './face-types.js';
import { squareAround } from './face-geometry.js';
import type { Tf } from './tfjs-wasm.js';

type Tensor3D = import('@tensorflow/tfjs').Tensor3D;

const NET_INPUT = 112;

/** 68 × (x, y) in frame pixels. `cropScale` enlarges BlazeFace's tight box to what the net was trained on. */
export async function detectLandmarks68(tf: Tf, faceapi: FaceApi, frame: Tensor3D, box: Box, cropScale: number): Promise<Float32Array> {
  const square = squareAround(box, cropScale);
  const crop = cropBox(tf, frame, square, NET_INPUT);
  try {
    const lm = await faceapi.nets.faceLandmark68Net.detectLandmarks(crop);
    const out = new Float32Array(136);
    const k = square.width / NET_INPUT;
    lm.positions.forEach((p, i) => {
      out[2 * i] = square.x + p.x * k;
      out[2 * i + 1] = square.y + p.y * k;
    });
    return out;
  } finally {
    crop.dispose();
  }
}
