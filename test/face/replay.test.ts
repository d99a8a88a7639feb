// Replay attacks against the motion check, on REAL landmarks from the face workers (../shared/faces):
// a still photo, the same photo moved with noise, and a slideshow of one person's photos are all
// spoofs; the positive control — one photo whose mouth alone is warped open and shut again from
// its landmarks, background untouched — passes. (A warped blink is not used: face-api's 68-point
// net hardly moves the eyelid points even for a fully shut warp, EAR 0.257 → 0.249.) No live video exists here, so "live" is
// synthetic.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FacePool } from '../../src/gate/face/face-pool.js';
import type { FaceResult, RgbFrame } from '../../src/gate/face/face-types.js';
import { decodeFrame } from '../../src/gate/face/frame-decode.js';
import { motionLiveness, type LivenessFrame } from '../../src/gate/face/motion-liveness.js';
import { facesDir, haveFaces } from './faces-dir.js';
import { mouthOpen, moved, seeded } from './frame-warp.js';

const BURST = 8;

describe.skipIf(!haveFaces)('motion liveness against replays, on real landmarks', () => {
  const pool = new FacePool({ workers: 2 });
  let base: RgbFrame;
  let baseResult: FaceResult;
  const photo = (p: string) => readFileSync(join(facesDir, 'people', p));

  beforeAll(async () => {
    await pool.start();
    // Zoomed on the face, as a gate camera at arm's length sees it (about 100 px between the eyes).
    const whole = await decodeFrame(photo('obama/1.jpg'));
    const b = (await pool.process(whole)).boxes[0].box;
    const { scale, offsetX, offsetY } = whole.letterbox;
    const side = (Math.max(b.width, b.height) * 2.5) / scale;
    const cx = (b.x + b.width / 2 - offsetX) / scale;
    const cy = (b.y + b.height / 2 - offsetY) / scale;
    base = await decodeFrame(photo('obama/1.jpg'), undefined, { region: { left: cx - side / 2, top: cy - side / 2, width: side, height: side } });
    baseResult = await pool.process(base);
  }, 120_000);
  afterAll(() => pool.stop());

  async function judge(frames: RgbFrame[]) {
    const results = await Promise.all(frames.map((f) => pool.process(f)));
    const burst: LivenessFrame[] = results.map((r, i) => {
      if (!r.chosen) throw new Error(`frame ${i}: no face (${r.refused})`);
      return { landmarks: r.chosen.landmarks, box: r.chosen.box, descriptor: r.chosen.descriptor };
    });
    const verdict = motionLiveness(burst);
    console.log(`${verdict.live ? 'LIVE' : 'spoof'} (${verdict.reason}) ${JSON.stringify(verdict.scores, (_, v) => (typeof v === 'number' ? Math.round(v * 1000) / 1000 : v))}`);
    return verdict;
  }

  it('the same photo in every frame of a burst is a spoof', async () => {
    expect(baseResult.chosen).toBeDefined();
    const v = await judge(Array.from({ length: BURST }, () => base));
    expect(v.live).toBe(false);
  });

  it('the same photo with small random shifts, scaling and noise is a spoof', async () => {
    const rnd = seeded(42);
    const frames = Array.from({ length: BURST }, () => moved(base, (rnd() * 2 - 1) * 12, (rnd() * 2 - 1) * 8, 1 + (rnd() * 2 - 1) * 0.04, 6, rnd));
    const v = await judge(frames);
    expect(v.live).toBe(false);
    expect(['still', 'rigid_motion_only']).toContain(v.reason);
  });

  it('a slideshow of different photos of one person is a spoof', async () => {
    const stills = await Promise.all(['obama/1.jpg', 'obama/2.jpg', 'obama/3.jpg'].map((p) => decodeFrame(photo(p))));
    const v = await judge(Array.from({ length: BURST }, (_, i) => stills[Math.floor(i / 3) % stills.length]));
    expect(v.live).toBe(false);
    expect(v.reason).toBe('identity_jump');
  });

  it('positive control: the mouth alone warped open and shut again passes the motion check', async () => {
    const lm = baseResult.chosen!.landmarks;
    const opening = [0, 0, 0.5, 1, 1, 0.5, 0, 0];
    const v = await judge(opening.map((a) => (a === 0 ? base : mouthOpen(base, lm, a))));
    expect(v.live).toBe(true);
    expect(v.reason).toBe('mouth_movement');
  });
});
