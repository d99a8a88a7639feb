// @vladmandic/face-api's WASM build (dist/face-api.node-wasm.js, not the package main, which wants
// tfjs-node), sharing this thread's tfjs instance. Only two of its networks are used: the 68-point
// landmarks and the 128-d ResNet descriptor; their weights come from the verified models directory.
import { createRequire } from 'node:module';
import { loadWeightMapFile } from './model-files.js';
import { freeFiltersOncePacked } from './packed-filter-memory.js';
import type { Tf } from './tfjs-wasm.js';

const require = createRequire(import.meta.url);

type Tensor3D = import('@tensorflow/tfjs').Tensor3D;
type NamedTensorMap = import('@tensorflow/tfjs').NamedTensorMap;

/** The part of face-api this code uses, typed against our tfjs (face-api's own types bundle another copy). */
export interface FaceApiRect {
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface FaceApiLandmarks {
  positions: Array<{ x: number; y: number }>;
  shiftBy(x: number, y: number): FaceApiLandmarks;
  align(detection?: null, options?: { useDlibAlignment?: boolean; minBoxPadding?: number }): FaceApiRect;
}
interface Net {
  loadFromWeightMap(map: NamedTensorMap): void;
  readonly isLoaded: boolean;
}
export interface FaceApi {
  nets: {
    faceLandmark68Net: Net & { detectLandmarks(input: Tensor3D): Promise<FaceApiLandmarks> };
    faceRecognitionNet: Net & { computeFaceDescriptor(input: Tensor3D): Promise<Float32Array> };
  };
  Rect: new (x: number, y: number, width: number, height: number) => FaceApiRect;
  extractFaceTensors(image: Tensor3D, boxes: FaceApiRect[]): Promise<Tensor3D[]>;
}

export const faceApiModelFiles = {
  landmarks: 'face_landmark_68_model-weights_manifest.json',
  recognition: 'face_recognition_model-weights_manifest.json',
} as const;

const NET_INPUT = { landmarks: 112, recognition: 150 } as const;

/**
 * face-api with the landmark and recognition networks loaded from `modelsDir`, each run once on a
 * blank input: their XNNPACK operators exist from the start, and the float copies of their filters
 * are freed (packed-filter-memory.ts).
 */
export async function loadFaceApi(tf: Tf, modelsDir: string): Promise<FaceApi> {
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
  const { faceLandmark68Net, faceRecognitionNet } = faceapi.nets;
  if (faceLandmark68Net.isLoaded && faceRecognitionNet.isLoaded) return faceapi;
  const landmarks = loadWeightMapFile(tf, modelsDir, faceApiModelFiles.landmarks);
  const recognition = loadWeightMapFile(tf, modelsDir, faceApiModelFiles.recognition);
  faceLandmark68Net.loadFromWeightMap(landmarks);
  faceRecognitionNet.loadFromWeightMap(recognition);
  freeFiltersOncePacked(tf, [...Object.values(landmarks), ...Object.values(recognition)].filter((t) => t.rank === 4 && !t.isDisposed));
  const blank = (size: number) => tf.zeros([size, size, 3], 'float32') as Tensor3D;
  const lmInput = blank(NET_INPUT.landmarks);
  const recInput = blank(NET_INPUT.recognition);
  try {
    await faceLandmark68Net.detectLandmarks(lmInput);
    await faceRecognitionNet.computeFaceDescriptor(recInput);
  } finally {
    tf.dispose([lmInput, recInput]);
  }
  return faceapi;
}
