// The default 1:1 match threshold, chosen without the photos it is tested on: face-api publishes
// 0.6 as its euclidean distance threshold on raw descriptors; on face-api's own sample images
// (node_modules/@vladmandic/face-api/demo/sample*.jpg, 22 faces through this pipeline) a raw
// descriptor's norm averages 1.473, so the same threshold on L2-normalised descriptors is a cosine
// similarity of 1 − (0.6 / 1.473)² / 2 ≈ 0.917.
// Re-measured after the chip became supersampled (embedder.ts): mean norm 1.4726 over the same 22
// faces, 0.9170. Sites set their own from `sitegate face eval`.
export const defaultMatchThreshold = 0.917;

/**
 * 1:N: the best worker must beat the next one by this much. Not measured on any photo set: a
 * floor about the size of the spread one face's descriptor shows between consecutive camera
 * frames, so that two enrolled look-alikes within noise of each other are refused, not guessed.
 */
export const defaultMatchMargin = 0.01;

/** Cosine similarity of two L2-normalised descriptors. */
export function similarity(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
