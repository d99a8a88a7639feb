// Reads model files from the verified models directory into tfjs, without tfjs' own loaders
// (which would want fetch or tfjs-node to read a file://).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tf } from './tfjs-wasm.js';

type GraphModel = import('@tensorflow/tfjs').GraphModel;
type NamedTensorMap = import('@tensorflow/tfjs').NamedTensorMap;

interface WeightsGroup {
  paths: string[];
  weights: import('@tensorflow/tfjs').io.WeightsManifestEntry[];
}

function readShards(dir: string, groups: WeightsGroup[]) {
  const specs = groups.flatMap((g) => g.weights);
  const parts = groups.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p))));
  const all = Buffer.concat(parts);
  const data = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  return { specs, data };
}

/** A tfjs graph model (model.json + shards) from `dir`. */
export async function loadGraphModelFile(tf: Tf, dir: string, jsonName: string): Promise<GraphModel> {
  const json = JSON.parse(readFileSync(join(dir, jsonName), 'utf8')) as { modelTopology: object; weightsManifest: WeightsGroup[]; format?: string; generatedBy?: string; convertedBy?: string; signature?: object; userDefinedMetadata?: Record<string, unknown> };
  const { specs, data } = readShards(dir, json.weightsManifest);
  const handler = tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: specs,
    weightData: data,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
  });
  return tf.loadGraphModel(handler);
}

/** The named weights of a face-api network (its weights_manifest.json + shards) from `dir`. */
export function loadWeightMapFile(tf: Tf, dir: string, manifestName: string): NamedTensorMap {
  const groups = JSON.parse(readFileSync(join(dir, manifestName), 'utf8')) as WeightsGroup[];
  const { specs, data } = readShards(dir, groups);
  return tf.io.decodeWeights(data, specs);
}
