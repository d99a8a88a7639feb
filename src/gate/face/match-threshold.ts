// Face descriptors and how two of them are scored.
//
// face-api's descriptor network is dlib's ResNet, trained with a metric loss on the Euclidean
// distance of its raw 128-d output; dlib and face-api publish 0.6 as the distance below which two
// faces are the same person. The descriptor is kept at that scale, only divided by a constant
// (DESCRIPTOR_SCALE) so that it has about unit length, and never normalised per face: its length
// carries part of what the network learned (normalising it cost 4 of the 91 mated pairs on
// ../shared/faces that the raw distance keeps, with no false match either way).
//
// The score of two descriptors is 1 − ½·|a − b|²: for unit vectors it is their cosine, it is higher
// for more similar faces, and it is a fixed function of the network's own distance, so the
// published threshold carries over exactly.

/**
 * The mean length of the raw descriptor on face-api's own sample images
 * (node_modules/@vladmandic/face-api/demo/sample*.jpg, 22 faces through this pipeline with the
 * supersampled chip of embedder.ts): 1.4726. Not measured on the photos the tests use.
 */
export const DESCRIPTOR_SCALE = 1.4726;

/** dlib's and face-api's published same-person distance on raw descriptors. */
export const PUBLISHED_DISTANCE_THRESHOLD = 0.6;

/** The published threshold as a score: 1 − ½·(0.6 / 1.4726)² = 0.917. Sites set their own from `sitegate face eval`. */
export const defaultMatchThreshold = Math.round((1 - (PUBLISHED_DISTANCE_THRESHOLD / DESCRIPTOR_SCALE) ** 2 / 2) * 1000) / 1000;

/**
 * 1:N: the best worker must beat the next one by this much. Not measured on any photo set: a
 * floor about the size of the spread one face's descriptor shows between consecutive camera
 * frames, so that two enrolled look-alikes within noise of each other are refused, not guessed.
 */
export const defaultMatchMargin = 0.01;

/** The match score of two descriptors: 1 − ½·|a − b|² (the cosine when both have unit length). */
export function similarity(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return 1 - s / 2;
}

/** The raw distance the network was trained on, from a score. */
export function rawDistance(score: number): number {
  return Math.sqrt(Math.max(0, 2 * (1 - score))) * DESCRIPTOR_SCALE;
}

/** Descriptor lengths accepted in a roster template: a raw length of 0.74–2.2, far around every face seen. */
export const TEMPLATE_LENGTH_RANGE = { min: 0.5, max: 1.5 } as const;
