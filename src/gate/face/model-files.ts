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

const BYTES_PER_STORED_VALUE: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/**
 * The named weights of a face-api network (its weights_manifest.json + shards) from `dir`. The 4-D
 * convolution filters are created after every other tensor, so that they lie together in the WASM
 * heap: freed once packed (packed-filter-memory.ts), they leave one large block for the frames.
 */
export function loadWeightMapFile(tf: Tf, dir: string, manifestName: string): NamedTensorMap {
  const groups = JSON.parse(readFileSync(join(dir, manifestName), 'utf8')) as WeightsGroup[];
  const { specs, data } = readShards(dir, groups);
  const placed: Array<{ spec: (typeof specs)[number]; start: number; end: number }> = [];
  let offset = 0;
  for (const spec of specs) {
    const stored = spec.quantization?.dtype ?? spec.dtype;
    const bytes = BYTES_PER_STORED_VALUE[stored];
    if (!bytes) throw new Error(`${manifestName}: weight ${spec.name} has an unsupported type ${stored}`);
    const end = offset + spec.shape.reduce((a, b) => a * b, 1) * bytes;
    placed.push({ spec, start: offset, end });
    offset = end;
  }
  if (offset !== data.byteLength) throw new Error(`${manifestName}: the weights need ${offset} bytes, the shards hold ${data.byteLength}`);
  const map: NamedTensorMap = {};
  const filtersLast = [...placed.filter((p) => p.spec.shape.length !== 4), ...placed.filter((p) => p.spec.shape.length === 4)];
  for (const { spec, start, end } of filtersLast) Object.assign(map, tf.io.decodeWeights(data.slice(start, end), [spec]));
  return map;
}
