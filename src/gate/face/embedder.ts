// face-api's 128-d ResNet descriptor of the dlib-aligned face chip (150 × 150, padding 0.25, the
// geometry dlib's ResNet was trained on), divided by DESCRIPTOR_SCALE, not normalised per face
// (match-threshold.ts says why).
import { alignedChip } from './align.js';
import type { FaceApi } from './face-api-host.js';
import { DESCRIPTOR_SCALE } from './match-threshold.js';
import type { Tf } from './tfjs-wasm.js';

type Tensor3D = import('@tensorflow/tfjs').Tensor3D;

const CHIP_SIZE = 150;
const CHIP_PADDING = 0.25;
/** The chip is rendered at twice its size and averaged down (align.ts: no aliasing). */
const CHIP_SUPERSAMPLE = 2;

/** The network's raw output at the descriptor scale. */
export function scaleDescriptor(raw: Float32Array): Float32Array {
  const out = new Float32Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw[i] / DESCRIPTOR_SCALE;
  return out;
}

/** The mean of several descriptors of one face (a burst of frames). */
export function meanDescriptor(descriptors: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(descriptors[0].length);
  for (const d of descriptors) for (let i = 0; i < out.length; i++) out[i] += d[i] / descriptors.length;
  return out;
}

/** The descriptor of the face whose 68 landmarks (frame pixels) are given, and its chip (caller disposes). */
export async function describeFace(tf: Tf, faceapi: FaceApi, frame: Tensor3D, landmarks: Float32Array): Promise<{ descriptor: Float32Array; chip: Tensor3D }> {
  const chip = alignedChip(tf, frame, landmarks, CHIP_SIZE, CHIP_PADDING, CHIP_SUPERSAMPLE);
  try {
    const raw = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(chip);
    return { descriptor: scaleDescriptor(raw), chip };
  } catch (err) {
    chip.dispose();
    throw err;
  }
}
