// Enrolment rules and the IR check, on the sample photos shipped in @vladmandic/face-api (always present).
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultEnrolQuality, enrolFromPhoto, judgeEnrolment, probeQuality } from '../../src/gate/face/enrol.js';
import { FacePool } from '../../src/gate/face/face-pool.js';
import type { ChosenFace, FaceResult } from '../../src/gate/face/face-types.js';
import { decodeTemplate, encodeTemplate } from '../../src/gate/face/face-templates.js';
import { decodeFrame } from '../../src/gate/face/frame-decode.js';
import { TEMPLATE_LENGTH_RANGE } from '../../src/gate/face/match-threshold.js';

const sample = (i: number) => readFileSync(`node_modules/@vladmandic/face-api/demo/sample${i}.jpg`);

function result(over: Partial<ChosenFace>): FaceResult {
  const chosen: ChosenFace = {
    box: { x: 0, y: 0, width: 100, height: 100 },
    landmarks: new Float32Array(136),
    descriptor: new Float32Array(128),
    eyeDistancePx: 60,
    detScore: 0.9,
    liveness: { antispoof: 0.8, liveness: 0.9 },
    pose: { yaw: 0, pitch: 0, roll: 0 },
    sharpness: 500,
    ...over,
  };
  return { faces: 1, chosen, boxes: [{ box: chosen.box, score: 0.9 }], timings: { detectMs: 0, landmarksMs: 0, embedMs: 0, livenessMs: 0, totalMs: 0 } };
}

describe('enrolment rules', () => {
  it('accepts a sharp, frontal, large face', () => {
    expect(judgeEnrolment(result({}), defaultEnrolQuality).ok).toBe(true);
  });
  it('refuses a blurred face, a small one and a turned one, each with its reason', () => {
    expect(judgeEnrolment(result({ sharpness: 3 }), defaultEnrolQuality)).toMatchObject({ ok: false, reason: 'blurred' });
    expect(judgeEnrolment(result({ eyeDistancePx: 12 }), defaultEnrolQuality)).toMatchObject({ ok: false, reason: 'too_small', message: expect.stringContaining('12 px') });
    expect(judgeEnrolment(result({ pose: { yaw: 60, pitch: 0, roll: 0 } }), defaultEnrolQuality)).toMatchObject({ ok: false, reason: 'pose' });
    expect(judgeEnrolment(result({ pose: { yaw: 0, pitch: 0, roll: 40 } }), defaultEnrolQuality)).toMatchObject({ ok: false, reason: 'pose' });
  });
  it('judges a probe (face eval\'s degraded copies) as the gate does: size only, the largest of several faces', () => {
    expect(judgeEnrolment(result({ sharpness: 3 }), probeQuality).ok).toBe(true);
    expect(judgeEnrolment(result({ pose: { yaw: 60, pitch: 0, roll: 40 } }), probeQuality).ok).toBe(true);
    expect(judgeEnrolment(result({ eyeDistancePx: 12 }), probeQuality)).toMatchObject({ ok: false, reason: 'too_small' });
    const two = result({});
    two.faces = 2;
    two.boxes.push({ box: { x: 200, y: 0, width: 80, height: 80 }, score: 0.9 });
    expect(judgeEnrolment(two, defaultEnrolQuality)).toMatchObject({ ok: false, reason: 'several_faces' });
    expect(judgeEnrolment(two, probeQuality).ok).toBe(true);
  });
});

describe('enrolment from photos through the face workers', () => {
  const pool = new FacePool({ workers: 1 });
  beforeAll(() => pool.start(), 120_000);
  afterAll(() => pool.stop());

  it('refuses a group photo: several faces', async () => {
    expect(await enrolFromPhoto(pool, sample(1))).toMatchObject({ ok: false, reason: 'several_faces' });
  });

  it('refuses a picture without a face, and bytes that are no picture', async () => {
    const wall = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 120, g: 130, b: 140 } } }).jpeg().toBuffer();
    expect(await enrolFromPhoto(pool, wall)).toMatchObject({ ok: false, reason: 'no_face' });
    expect(await enrolFromPhoto(pool, Buffer.from('not a picture'))).toMatchObject({ ok: false, reason: 'unreadable' });
  });

  it('enrols a face cut tightly out of a group photo (ID-card style), with a margin added', async () => {
    const frame = await decodeFrame(sample(3));
    const r = await pool.process(frame);
    const b = r.boxes[0].box;
    const { scale, offsetX, offsetY } = frame.letterbox;
    const crop = await sharp(sample(3))
      .extract({ left: Math.round((b.x - offsetX) / scale), top: Math.round((b.y - offsetY) / scale), width: Math.round(b.width / scale), height: Math.round(b.height / scale) })
      .resize(150, 150, { fit: 'fill' })
      .greyscale()
      .png()
      .toBuffer();
    const out = await enrolFromPhoto(pool, crop);
    expect(out, JSON.stringify(out)).toMatchObject({ ok: true, padded: true });
    if (out.ok) {
      expect(out.descriptor).toHaveLength(128);
      // At the descriptor scale, not normalised per face: a length near 1, accepted as a roster template.
      const length = Math.hypot(...out.descriptor);
      expect(length).toBeGreaterThan(TEMPLATE_LENGTH_RANGE.min);
      expect(length).toBeLessThan(TEMPLATE_LENGTH_RANGE.max);
      expect(Math.abs(length - 1)).toBeGreaterThan(1e-4);
      expect(decodeTemplate(encodeTemplate(out.descriptor))).toEqual(out.descriptor);
    }
  });

  it('with an IR frame, a face must also appear in it', async () => {
    const frame = await decodeFrame(sample(6));
    const darkIr = { width: frame.width, height: frame.height, data: new Uint8Array(frame.width * frame.height * 3) };
    const refused = await pool.process(frame, { ir: darkIr });
    expect(refused).toMatchObject({ refused: 'no_ir_face', irFaces: 0 });
    expect(refused.chosen).toBeUndefined();
    const passed = await pool.process(frame, { ir: frame });
    expect(passed.irFaces).toBeGreaterThan(0);
    expect(passed.chosen?.descriptor).toHaveLength(128);
  });

  it('leaks no tensors across frames', async () => {
    const frame = await decodeFrame(sample(2));
    await pool.process(frame);
    const before = (await pool.stats())[0].tensors;
    for (let i = 0; i < 5; i++) await pool.process(frame);
    expect((await pool.stats())[0].tensors).toBe(before);
  });
});
