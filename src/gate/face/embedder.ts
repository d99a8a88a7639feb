// face-api's 128-d ResNet descriptor of the dlib-aligned face chip (150 × 150, padding 0.25, the
// geometry dlib's ResNet was trained on), L2-normalised so that a dot product is the cosine similarity.
import { alignedChip } from './align.js';
import type { FaceApi } from './face-api-host.js';
import type { Tf } from './tfjs-wasm.js';

type Tensor3D = import('@tensorflow/tfjs').Tensor3D;

const CHIP_SIZE = 150;
const CHIP_PADDING = 0.25;
/** The chip is rendered at twice its size and averaged down (align.ts: no aliasing). */
const CHIP_SUPERSAMPLE = 2;

export function l2normalise(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const k = s > 0 ? 1 / Math.sqrt(s) : 0;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * k;
  return out;
}

/** The descriptor of the face whose 68 landmarks (frame pixels) are given, and its chip (caller disposes). */
export async function describeFace(tf: Tf, faceapi: FaceApi, frame: Tensor3D, landmarks: Float32Array): Promise<{ descriptor: Float32Array; chip: Tensor3D }> {
  const chip = alignedChip(tf, frame, landmarks, CHIP_SIZE, CHIP_PADDING, CHIP_SUPERSAMPLE);
  try {
    const raw = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(chip);
    return { descriptor: l2normalise(raw), chip };
  } catch (err) {
    chip.dispose();
    throw err;
  }
}
