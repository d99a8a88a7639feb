import { describe, expect, it } from 'vitest';
import { createFaceIndex, type FaceIndex } from '../../src/gate/face/face-index.js';
import { KERNEL_WAT } from '../../src/gate/face/index-simd-kernel.js';
import { similarity } from '../../src/gate/face/match-threshold.js';
import { jitter, randomUnit, seededRandom } from './vectors.js';

const opts = { threshold: 0.6, margin: 0.05 };

async function both(): Promise<[FaceIndex, FaceIndex]> {
  return [await createFaceIndex({ ...opts, kernel: 'simd' }), await createFaceIndex({ ...opts, kernel: 'js' })];
}

describe('1:N face index', () => {
  it('assembles the SIMD kernel from WAT that uses int8 loads widened to i16 and i32x4.dot_i16x8_s', async () => {
    expect(KERNEL_WAT).toContain('i16x8.extend_low_i8x16_s');
    expect(KERNEL_WAT).toContain('i32x4.dot_i16x8_s');
    const idx = await createFaceIndex({ ...opts, kernel: 'simd' });
    expect(idx.kernel).toBe('simd');
  });

  it('gives bit-identical scan scores and the same results with the SIMD kernel and the JS loop', async () => {
    const rnd = seededRandom(1);
    const [simd, js] = await both();
    const ids = Array.from({ length: 3000 }, (_, i) => `W${i}`);
    const flat = new Float32Array(3000 * 128);
    for (let i = 0; i < 3000; i++) flat.set(randomUnit(rnd), i * 128);
    simd.addFlat(ids, flat);
    js.addFlat(ids, flat);
    for (let q = 0; q < 20; q++) {
      const query = q < 10 ? jitter(flat.slice(q * 128, q * 128 + 128), 0.3, rnd) : randomUnit(rnd);
      expect(simd.scanScores(query)).toEqual(js.scanScores(query));
      expect(simd.search(query)).toEqual(js.search(query));
    }
  });

  it('finds the enrolled worker with the exact score and the runner-up of another worker', async () => {
    const rnd = seededRandom(2);
    const idx = await createFaceIndex(opts);
    const people = Array.from({ length: 500 }, () => randomUnit(rnd));
    people.forEach((p, i) => idx.add(`W${i}`, [p, jitter(p, 0.2, rnd)]));
    const probe = jitter(people[123], 0.25, rnd);
    const r = idx.search(probe);
    if ('rejected' in r) throw new Error(`rejected: ${r.rejected}`);
    const exact = Math.max(...idx.templatesOf('W123').map((t) => similarity(t, probe)));
    expect(r.workerId).toBe('W123');
    expect(r.score).toBeCloseTo(exact, 6);
    expect(r.secondWorkerId).not.toBe('W123');
    const second = Math.max(...people.map((p, i) => (i === 123 ? -1 : Math.max(...idx.templatesOf(`W${i}`).map((t) => similarity(t, probe))))));
    expect(r.secondScore).toBeCloseTo(second, 6);
    expect(r.margin).toBeCloseTo(exact - second, 6);
  });

  it('rejects a stranger below the threshold and a look-alike pair as ambiguous', async () => {
    const rnd = seededRandom(3);
    const idx = await createFaceIndex(opts);
    const a = randomUnit(rnd);
    idx.add('A', [a]);
    idx.add('A-twin', [jitter(a, 0.05, rnd)]);
    for (let i = 0; i < 50; i++) idx.add(`X${i}`, [randomUnit(rnd)]);
    const stranger = idx.search(randomUnit(rnd));
    expect(stranger).toMatchObject({ rejected: 'below_threshold' });
    const twin = idx.search(jitter(a, 0.02, rnd));
    expect(twin).toMatchObject({ rejected: 'ambiguous' });
    if ('rejected' in twin) expect(twin.best!.margin).toBeLessThan(0.05);
    expect((await createFaceIndex(opts)).search(a)).toEqual({ rejected: 'empty_index' });
  });

  it('keeps every worker findable through adds, removals and replacements (roster deltas)', async () => {
    const rnd = seededRandom(4);
    for (const kernel of ['simd', 'js'] as const) {
      const idx = await createFaceIndex({ ...opts, kernel });
      const faces = new Map<string, Float32Array[]>();
      for (let i = 0; i < 400; i++) {
        const p = randomUnit(rnd);
        const t = [p, jitter(p, 0.2, rnd), jitter(p, 0.2, rnd)].slice(0, 1 + (i % 3));
        faces.set(`W${i}`, t);
        idx.add(`W${i}`, t);
      }
      for (let i = 0; i < 400; i += 7) {
        expect(idx.remove(`W${i}`)).toBe(faces.get(`W${i}`)!.length);
        faces.delete(`W${i}`);
      }
      const fresh = randomUnit(rnd);
      idx.apply({ remove: ['W1', 'W2'], upsert: [{ workerId: 'W3', templates: [fresh] }, { workerId: 'NEW', templates: [randomUnit(rnd)] }] });
      faces.delete('W1');
      faces.delete('W2');
      faces.set('W3', [fresh]);
      expect(idx.size).toBe([...faces.values()].reduce((s, t) => s + t.length, 0) + 1);
      expect(idx.workerCount).toBe(faces.size + 1);
      expect(idx.has('W7')).toBe(false);
      for (const [id, t] of faces) {
        expect(idx.templatesOf(id)).toHaveLength(t.length);
        const r = idx.search(t[0]);
        expect('rejected' in r ? r : r.workerId, `${kernel} ${id}`).toBe(id);
      }
      expect(idx.remove('nobody')).toBe(0);
    }
  });

  it('verifies one claimed worker (card + face)', async () => {
    const rnd = seededRandom(5);
    const idx = await createFaceIndex({ ...opts, verifyThreshold: 0.5 });
    const a = randomUnit(rnd), b = randomUnit(rnd);
    idx.add('A', [a]);
    idx.add('B', [b]);
    expect(idx.verify('A', jitter(a, 0.3, rnd))).toMatchObject({ workerId: 'A', accepted: true });
    expect(idx.verify('A', b)).toMatchObject({ workerId: 'A', accepted: false });
    expect(idx.verify('C', a)).toEqual({ workerId: 'C', rejected: 'no_templates' });
  });

  it('refuses templates that are not 128 finite floats', async () => {
    const idx = await createFaceIndex(opts);
    expect(() => idx.add('A', [new Float32Array(64)])).toThrow(/128 values/);
    const bad = new Float32Array(128);
    bad[5] = NaN;
    expect(() => idx.add('A', [bad])).toThrow(/non-finite value at 5/);
    expect(() => idx.search(new Float32Array(3))).toThrow(/query/);
    expect(idx.size).toBe(0);
  });

  it('re-ranks with scores within 1e-5 of the float templates\' (int8 row plus int8 residual)', async () => {
    const rnd = seededRandom(9);
    const idx = await createFaceIndex({ ...opts, kernel: 'js' });
    // lengths like real descriptors' (about 1 ± 0.1)
    const templates = Array.from({ length: 300 }, () => randomUnit(rnd).map((v) => v * (0.9 + 0.2 * rnd())));
    templates.forEach((t, i) => idx.add(`W${i}`, [t]));
    let worst = 0;
    for (let i = 0; i < 300; i += 7) {
      const probe = jitter(templates[i], 0.3, rnd);
      const v = idx.verify(`W${i}`, probe);
      if ('rejected' in v) throw new Error('no templates');
      worst = Math.max(worst, Math.abs(v.score - similarity(templates[i], probe)));
      const back = idx.templatesOf(`W${i}`)[0];
      for (let d = 0; d < 128; d++) expect(Math.abs(back[d] - templates[i][d])).toBeLessThan(2e-5);
    }
    expect(worst).toBeLessThan(1e-5);
    expect(worst).toBeGreaterThan(0); // quantised: not the float copy
  });

  it('ranks by distance, not by dot product: a longer template pointing the same way is not closer', async () => {
    const rnd = seededRandom(7);
    for (const kernel of ['simd', 'js'] as const) {
      // rerank 2: only the scan's two best are re-ranked, so the scan itself must rank by distance.
      const idx = await createFaceIndex({ ...opts, kernel, rerank: 2 });
      const u = randomUnit(rnd);
      for (let i = 0; i < 50; i++) idx.add(`LONG${i}`, [jitter(u, 0.05, rnd).map((v) => v * 1.4)]);
      for (let i = 0; i < 200; i++) idx.add(`X${i}`, [randomUnit(rnd)]);
      const near = jitter(u, 0.15, rnd);
      idx.add('NEAR', [near]);
      // Each long template has a larger dot product with u than NEAR's, and a larger distance.
      const long = idx.templatesOf('LONG0')[0];
      let dotLong = 0, dotNear = 0;
      for (let i = 0; i < 128; i++) {
        dotLong += long[i] * u[i];
        dotNear += near[i] * u[i];
      }
      expect(dotLong).toBeGreaterThan(dotNear);
      expect(similarity(long, u)).toBeLessThan(similarity(near, u));
      const r = idx.search(u);
      expect('rejected' in r ? r : r.workerId, kernel).toBe('NEAR');
      if (!('rejected' in r)) expect(r.score).toBeCloseTo(similarity(near, u), 5);
    }
  });

  it('costs 140 bytes in the scan (int8 row, scale, bias, score) and 132 bytes for the re-rank per template', async () => {
    const rnd = seededRandom(6);
    const idx = await createFaceIndex(opts);
    const n = 10_000;
    const flat = new Float32Array(n * 128);
    for (let i = 0; i < n; i++) flat.set(randomUnit(rnd), i * 128);
    idx.addFlat(Array.from({ length: n }, (_, i) => `W${i}`), flat);
    const m = idx.memoryBytes();
    expect(m.int8).toBeGreaterThanOrEqual(n * 140);
    expect(m.int8).toBeLessThan(n * 140 * 1.6);
    expect(m.fine).toBeGreaterThanOrEqual(n * 132);
    expect(m.fine).toBeLessThan(n * 132 * 1.6);
    const r = idx.search(flat.slice(9999 * 128));
    expect('rejected' in r ? r : r.workerId).toBe('W9999');
  });
});
