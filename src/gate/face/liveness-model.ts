// human's two liveness models on the face crop: antispoof.json (128×128, "real" score) and
// liveness.json (32×32, "live" score). Their scores are evidence for the site's liveness policy,
// not a decision by themselves.
import { loadGraphModelFile } from './model-files.js';
import type { LivenessScores } from './face-types.js';
import type { Tf } from './tfjs-wasm.js';

type GraphModel = import('@tensorflow/tfjs').GraphModel;
type Tensor3D = import('@tensorflow/tfjs').Tensor3D;
type Tensor = import('@tensorflow/tfjs').Tensor;

export const livenessModelFiles = { antispoof: 'antispoof.json', liveness: 'liveness.json' } as const;

export class LivenessModels {
  private readonly tf: Tf;
  private readonly antispoof: GraphModel;
  private readonly liveness: GraphModel;

  constructor(tf: Tf, antispoof: GraphModel, liveness: GraphModel) {
    this.tf = tf;
    this.antispoof = antispoof;
    this.liveness = liveness;
  }

  static async load(tf: Tf, modelsDir: string): Promise<LivenessModels> {
    return new LivenessModels(
      tf,
      await loadGraphModelFile(tf, modelsDir, livenessModelFiles.antispoof),
      await loadGraphModelFile(tf, modelsDir, livenessModelFiles.liveness),
    );
  }

  /** Scores for a face crop (float 0..255, any square size). */
  async score(crop: Tensor3D): Promise<LivenessScores> {
    const { tf } = this;
    const [a, l] = tf.tidy(() => {
      const unit = tf.expandDims(tf.div(crop, 255), 0) as import('@tensorflow/tfjs').Tensor4D;
      const size = (m: GraphModel): [number, number] => [m.inputs[0].shape?.[1] ?? 128, m.inputs[0].shape?.[2] ?? 128];
      return [
        this.antispoof.execute(tf.image.resizeBilinear(unit, size(this.antispoof))) as Tensor,
        this.liveness.execute(tf.image.resizeBilinear(unit, size(this.liveness))) as Tensor,
      ];
    });
    const [av, lv] = await Promise.all([a.data(), l.data()]);
    tf.dispose([a, l]);
    return { antispoof: av[0], liveness: lv[0] };
  }
}
