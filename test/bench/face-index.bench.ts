// 1:N search over 100,000 enrolled templates (random L2-normalised 128-d vectors): int8 scan with
// the WebAssembly SIMD kernel and with the plain JS loop, float re-rank and rules included; and
// the index's memory.
import { percentile } from '../../dist/core/stats.js';
import { createFaceIndex } from '../../dist/gate/face/face-index.js';
import { seededRandom } from '../../dist/gate/face/distractors.js';

const r2 = (v: number) => Math.round(v * 100) / 100;
const N = 100_000;

export default async function faceIndex(): Promise<Record<string, number>> {
  const rnd = seededRandom(1);
  const flat = new Float32Array(N * 128);
  for (let i = 0; i < N; i++) {
    let n = 0;
    for (let d = 0; d < 128; d++) {
      const v = rnd() - 0.5;
      flat[i * 128 + d] = v;
      n += v * v;
    }
    n = Math.sqrt(n);
    for (let d = 0; d < 128; d++) flat[i * 128 + d] /= n;
  }
  const ids = Array.from({ length: N }, (_, i) => `W${i}`);
  const figures: Record<string, number> = {};
  for (const kernel of ['simd', 'js'] as const) {
    const index = await createFaceIndex({ threshold: 0.6, margin: 0.05, kernel });
    index.addFlat(ids, flat);
    const rounds = kernel === 'simd' ? 500 : 60;
    const lat: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const q = flat.subarray(((i * 7919) % N) * 128, ((i * 7919) % N) * 128 + 128);
      const t0 = performance.now();
      index.search(q);
      lat.push(performance.now() - t0);
    }
    const suffix = kernel === 'simd' ? '' : '_js';
    figures[`face_1n_search_100k_ms${suffix}`] = r2(percentile(lat, 50));
    figures[`face_1n_search_100k_p99_ms${suffix}`] = r2(percentile(lat, 99));
    if (kernel === 'simd') {
      const m = index.memoryBytes();
      figures.face_index_100k_int8_mb = r2(m.int8 / 2 ** 20);
      figures.face_index_100k_rerank_mb = r2(m.fine / 2 ** 20);
    }
  }
  return figures;
}
