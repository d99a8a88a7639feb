// One thread's face pipeline: detect → choose → landmarks → align → describe → model liveness.
// Runs inside a face worker (face-worker.ts), never on the gate's main thread.
import { chooseFace, defaultChooseOptions, type ChooseOptions } from './choose-face.js';
import { BlazeFaceDetector, defaultDetectorOptions, type DetectorOptions } from './detector.js';
import { describeFace } from './embedder.js';
import { loadFaceApi, type FaceApi } from './face-api-host.js';
import { landmarkEyeDistance, laplacianVariance, poseFromLandmarks } from './face-geometry.js';
import type { FaceResult, RgbFrame } from './face-types.js';
import { detectLandmarks68 } from './landmarks.js';
import { LivenessModels } from './liveness-model.js';
import { loadGraphModelFile } from './model-files.js';
import { tfjsWasm, type Tf } from './tfjs-wasm.js';

type Tensor3D = import('@tensorflow/tfjs').Tensor3D;

export const detectorModelFile = 'blazeface.json';

export interface PipelineOptions {
  detector: DetectorOptions;
  choose: ChooseOptions;
  /** How much BlazeFace's tight box is enlarged for the landmark network. */
  landmarkCropScale: number;
}

export const defaultPipelineOptions: PipelineOptions = {
  detector: defaultDetectorOptions,
  choose: defaultChooseOptions,
  landmarkCropScale: 1.3,
};

/**
 * The frame as a float32 tensor. Every stage wants floats, and a cast of an int32 frame would
 * allocate a frame-sized copy in the WASM heap at each of them (0..255 are the same values either
 * way). The bytes go through one float buffer kept for the next frame of the same size: tfjs copies
 * a tensor's values into the WASM heap, and a new 3.7 MB array per 640×480 frame would only wait
 * for the garbage collector.
 */
function frameTensor(tf: Tf, frame: RgbFrame, scratch: { values?: Float32Array }): Tensor3D {
  const n = frame.width * frame.height * 3;
  if (frame.data.length !== n) {
    throw new Error(`frame of ${frame.width}×${frame.height} needs ${n} RGB bytes, got ${frame.data.length}`);
  }
  if (scratch.values?.length !== n) scratch.values = new Float32Array(n);
  scratch.values.set(frame.data);
  return tf.tensor3d(scratch.values, [frame.height, frame.width, 3], 'float32');
}

export class FacePipeline {
  private readonly tf: Tf;
  private readonly detector: BlazeFaceDetector;
  private readonly faceapi: FaceApi;
  private readonly liveness: LivenessModels;
  private readonly scratch: { values?: Float32Array } = {};

  constructor(tf: Tf, detector: BlazeFaceDetector, faceapi: FaceApi, liveness: LivenessModels) {
    this.tf = tf;
    this.detector = detector;
    this.faceapi = faceapi;
    this.liveness = liveness;
  }

  /** Loads every model from `modelsDir` (already verified against the manifest by the caller). */
  static async load(modelsDir: string): Promise<FacePipeline> {
    const tf = await tfjsWasm();
    // face-api's networks first: their filters, freed once packed, leave room for what comes after.
    const faceapi = await loadFaceApi(tf, modelsDir);
    const detector = new BlazeFaceDetector(tf, await loadGraphModelFile(tf, modelsDir, detectorModelFile));
    const liveness = await LivenessModels.load(tf, modelsDir);
    return new FacePipeline(tf, detector, faceapi, liveness);
  }

  /** tfjs' live tensor count: flat across frames, or something leaks. */
  tensorCount(): number {
    return this.tf.memory().numTensors;
  }

  async process(frame: RgbFrame, opts: PipelineOptions = defaultPipelineOptions, irFrame?: RgbFrame): Promise<FaceResult> {
    const { tf } = this;
    const t0 = performance.now();
    const timings = { detectMs: 0, landmarksMs: 0, embedMs: 0, livenessMs: 0, totalMs: 0 };
    const image = frameTensor(tf, frame, this.scratch);
    try {
      const faces = await this.detector.detect(image, opts.detector);
      const t1 = performance.now();
      timings.detectMs = t1 - t0;
      const result: FaceResult = { faces: faces.length, boxes: faces.map((f) => ({ box: f.box, score: f.score })), timings };
      const pick = chooseFace(faces, frame, opts.choose);
      if ('refused' in pick) {
        result.refused = pick.refused;
        return result;
      }
      if (irFrame) {
        result.irFaces = await this.countIrFaces(irFrame, opts.detector);
        if (result.irFaces === 0) {
          result.refused = 'no_ir_face';
          return result;
        }
      }
      const landmarks = await detectLandmarks68(tf, this.faceapi, image, pick.face.box, opts.landmarkCropScale);
      const t2 = performance.now();
      timings.landmarksMs = t2 - t1;
      const { descriptor, chip: crop } = await describeFace(tf, this.faceapi, image, landmarks);
      const t3 = performance.now();
      timings.embedMs = t3 - t2;
      try {
        const liveness = await this.liveness.score(crop);
        timings.livenessMs = performance.now() - t3;
        result.chosen = {
          box: pick.face.box,
          landmarks,
          descriptor,
          eyeDistancePx: landmarkEyeDistance(landmarks) / (frame.scale ?? 1),
          detScore: pick.face.score,
          liveness,
          pose: poseFromLandmarks(landmarks),
          sharpness: await this.sharpness(crop),
        };
      } finally {
        crop.dispose();
      }
      return result;
    } finally {
      image.dispose();
      timings.totalMs = performance.now() - t0;
    }
  }

  private async countIrFaces(ir: RgbFrame, opts: DetectorOptions): Promise<number> {
    const image = frameTensor(this.tf, ir, this.scratch);
    try {
      return (await this.detector.detect(image, opts)).length;
    } finally {
      image.dispose();
    }
  }

  private async sharpness(crop: Tensor3D): Promise<number> {
    const grey = this.tf.tidy(() => this.tf.mean(crop, 2));
    const [h, w] = grey.shape;
    const values = (await grey.data()) as Float32Array;
    grey.dispose();
    return laplacianVariance(values, w, h);
  }
}
