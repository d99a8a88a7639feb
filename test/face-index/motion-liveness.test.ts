// "Live" bursts here are synthetic (no live video exists on this machine): one fixed face whose
// landmarks blink or move the mouth, as a landmark-driven warp of one photo with the background fixed.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/gate/face/distractors.js';
import { fitAffine, motionLiveness } from '../../src/gate/face/motion-liveness.js';
import { faceShape, frame } from './synthetic-face.js';

const NOISE = 0.5; // px of landmark jitter per coordinate, as a detector gives on a still

function wobble(rnd: () => number) {
  return { dx: (rnd() - 0.5) * 20, dy: (rnd() - 0.5) * 20, scale: 0.9 + rnd() * 0.2, rot: (rnd() - 0.5) * 0.17 };
}

function unitVector(seed: number): Float32Array {
  const r = seededRandom(seed);
  const v = new Float32Array(128).map(() => r() - 0.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** A descriptor a little way (cosine distance ≈ d) from `base`. */
function near(base: Float32Array, seed: number, d: number): Float32Array {
  const o = unitVector(seed);
  const v = base.map((x, i) => x * (1 - d) + o[i] * Math.sqrt(2 * d));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

describe('motion liveness', () => {
  it('refuses the same picture in every frame as still', () => {
    const f = frame(faceShape());
    const r = motionLiveness(Array.from({ length: 10 }, () => f));
    expect(r).toMatchObject({ live: false, reason: 'still' });
  });

  it('refuses a still picture with landmark jitter as still', () => {
    const rnd = seededRandom(2);
    const r = motionLiveness(Array.from({ length: 12 }, () => frame(faceShape(), {}, NOISE, rnd)));
    expect(r.live).toBe(false);
    expect(r.reason).toBe('still');
    expect(r.scores!.noise).toBeGreaterThan(0.003);
  });

  it('refuses a picture shifted, scaled and rotated with noise as rigid motion only', () => {
    for (const seed of [3, 4, 5, 6, 7]) {
      const rnd = seededRandom(seed);
      const r = motionLiveness(Array.from({ length: 12 }, () => frame(faceShape(), wobble(rnd), NOISE, rnd)));
      expect(r, `seed ${seed}`).toMatchObject({ live: false, reason: 'rigid_motion_only' });
    }
  });

  it('refuses a picture tilted away from the camera (an affine image of itself)', () => {
    const rnd = seededRandom(8);
    const base = faceShape();
    const frames = Array.from({ length: 10 }, (_, f) => {
      const squeezed = base.map((v, i) => (i % 2 === 0 ? v * (1 - 0.03 * f) : v * (1 - 0.01 * f)));
      return frame(squeezed, { dx: f * 2 }, NOISE, rnd);
    });
    expect(motionLiveness(frames)).toMatchObject({ live: false, reason: 'rigid_motion_only' });
  });

  it('refuses a slideshow of different photos of one person as an identity jump', () => {
    const rnd = seededRandom(9);
    const photos = [
      faceShape(),
      faceShape({ jaw: 0.08, brow: 0.05, skew: 0.06, closure: 0.2 }),
      faceShape({ jaw: -0.05, height: 0.1, nose: 0.05, mouth: 0.05 }),
    ];
    const frames = photos.flatMap((p) => Array.from({ length: 4 }, () => frame(p, wobble(rnd), NOISE, rnd)));
    const r = motionLiveness(frames);
    expect(r).toMatchObject({ live: false, reason: 'identity_jump' });
    expect(r.scores!.maxShapeStep).toBeGreaterThan(r.scores!.shapeStepNeeded);
  });

  it('refuses a slideshow whose photos differ only in the eyes when the descriptors jump', () => {
    const rnd = seededRandom(10);
    const open = faceShape(), shut = faceShape({ closure: 0.9 });
    const dOpen = unitVector(1), dShut = near(dOpen, 2, 0.12); // two photos: cosine distance ≈ 0.12
    const seq = [open, open, open, shut, shut, open, open, open];
    const frames = seq.map((s) => frame(s, {}, NOISE, rnd, s === open ? dOpen : dShut));
    const r = motionLiveness(frames);
    expect(r).toMatchObject({ live: false, reason: 'identity_jump' });
    expect(r.scores!.maxDescriptorStep).toBeGreaterThan(0.06);
  });

  it('passes a synthetic blink of one fixed face', () => {
    const rnd = seededRandom(11);
    const closures = [0, 0, 0, 0.5, 0.95, 0.6, 0.1, 0, 0, 0];
    const r = motionLiveness(closures.map((c) => frame(faceShape({ closure: c }), {}, NOISE, rnd)));
    expect(r).toMatchObject({ live: true, reason: 'blink' });
    expect(r.scores!.earDrop).toBeGreaterThan(r.scores!.earDropNeeded);
  });

  it('passes a synthetic blink while the head drifts, with steady descriptors', () => {
    const rnd = seededRandom(12);
    const d = unitVector(3);
    const closures = [0, 0, 0.3, 0.9, 0.9, 0.4, 0, 0, 0, 0];
    const frames = closures.map((c, f) => frame(faceShape({ closure: c }), { dx: f * 3, scale: 1 + f * 0.01, rot: f * 0.005 }, NOISE, rnd, near(d, 20 + f, 0.01)));
    expect(motionLiveness(frames)).toMatchObject({ live: true, reason: 'blink' });
  });

  it('passes a synthetic mouth movement of one fixed face', () => {
    const rnd = seededRandom(13);
    const opening = [0, 0, 0.05, 0.12, 0.2, 0.2, 0.12, 0.05, 0, 0];
    const r = motionLiveness(opening.map((m) => frame(faceShape({ mouth: m }), {}, NOISE, rnd)));
    expect(r).toMatchObject({ live: true, reason: 'mouth_movement' });
  });

  it('passes a synthetic smile (no blink, mouth height unchanged) as micro-motion only where the site allows it', () => {
    const rnd = seededRandom(14);
    const seq = [0, 0, 0.05, 0.1, 0.2, 0.2, 0.1, 0.05];
    const frames = seq.map((v) => frame(faceShape({ smile: v }), {}, NOISE, rnd));
    expect(motionLiveness(frames, { microMotionIsLive: true })).toMatchObject({ live: true, reason: 'micro_motion' });
    expect(motionLiveness(frames)).toMatchObject({ live: false });
  });

  it('refuses too short a burst and broken landmarks', () => {
    const f = frame(faceShape());
    expect(motionLiveness([f, f, f])).toMatchObject({ live: false, reason: 'too_few_frames' });
    const broken = { ...f, landmarks: new Float32Array(136).fill(NaN) };
    expect(motionLiveness([f, f, f, f, broken])).toMatchObject({ live: false, reason: 'bad_landmarks' });
    expect(motionLiveness([f, f, f, f, { ...f, landmarks: new Float32Array(10) }])).toMatchObject({ reason: 'bad_landmarks' });
    const elsewhere = { ...f, box: { x: 0, y: 0, width: 50, height: 50 } };
    expect(motionLiveness([f, f, f, f, elsewhere])).toMatchObject({ reason: 'bad_landmarks' });
  });

  it('takes landmarks as {x, y} points too', () => {
    const rnd = seededRandom(15);
    const closures = [0, 0, 0.5, 0.95, 0.5, 0, 0];
    const frames = closures.map((c) => {
      const f = frame(faceShape({ closure: c }), {}, NOISE, rnd);
      const l = f.landmarks as Float32Array;
      return { ...f, landmarks: Array.from({ length: 68 }, (_, i) => ({ x: l[2 * i], y: l[2 * i + 1] })) };
    });
    expect(motionLiveness(frames)).toMatchObject({ live: true, reason: 'blink' });
  });

  it('fits the affine map that made a shape', () => {
    const a = faceShape();
    const t = [1.1, 0.2, 5, -0.1, 0.9, -3];
    const b = new Float64Array(136);
    for (let i = 0; i < 136; i += 2) {
      b[i] = t[0] * a[i] + t[1] * a[i + 1] + t[2];
      b[i + 1] = t[3] * a[i] + t[4] * a[i + 1] + t[5];
    }
    fitAffine(a, b, [0, 8, 16, 30, 36, 45]).forEach((v, i) => expect(v).toBeCloseTo(t[i], 9));
  });
});

describe('motion liveness over many random bursts', () => {
  const seeds = Array.from({ length: 60 }, (_, i) => 1000 + i);
  const count = (make: (rnd: () => number) => Parameters<typeof motionLiveness>[0]) => {
    const reasons: Record<string, number> = {};
    for (const s of seeds) {
      const r = motionLiveness(make(seededRandom(s)));
      const k = `${r.live ? 'live' : 'spoof'}:${r.reason}`;
      reasons[k] = (reasons[k] ?? 0) + 1;
    }
    return reasons;
  };

  it('never passes a still or rigidly moved picture', () => {
    expect(count((rnd) => Array.from({ length: 10 }, () => frame(faceShape(), {}, NOISE, rnd)))).toEqual({ 'spoof:still': 60 });
    expect(count((rnd) => Array.from({ length: 10 }, () => frame(faceShape(), wobble(rnd), NOISE, rnd)))).toEqual({ 'spoof:rigid_motion_only': 60 });
  });

  it('never passes a slideshow of three photos of one person', () => {
    const photos = [faceShape(), faceShape({ jaw: 0.08, brow: 0.05, skew: 0.06 }), faceShape({ jaw: -0.05, height: 0.1, nose: 0.05 })];
    expect(count((rnd) => photos.flatMap((p) => Array.from({ length: 3 }, () => frame(p, wobble(rnd), NOISE, rnd))))).toEqual({ 'spoof:identity_jump': 60 });
  });

  it('always passes a synthetic blink', () => {
    const closures = [0, 0, 0.5, 0.9, 0.5, 0, 0, 0];
    expect(count((rnd) => closures.map((c) => frame(faceShape({ closure: c }), {}, NOISE, rnd)))).toEqual({ 'live:blink': 60 });
  });
});
