import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { decodeTemplate } from '../../src/gate/face/face-templates.js';
import { decodeFrame } from '../../src/gate/face/frame-decode.js';
import { RegistryRosterSource } from '../../src/hub/hub-roster-source.js';
import { enrolFromPhoto } from '../../src/gate/face/enrol.js';
import { FacePool } from '../../src/gate/face/face-pool.js';
import { embedderModelId } from '../../src/gate/gate-enrol.js';
import { enrolPending, enrolPhoto, enrolPhotoPending, type PhotoEnroller } from '../../src/hub/registry/face-enrolment.js';
import { parseImportFile } from '../../src/hub/registry/import-file.js';
import { RegistryStore } from '../../src/hub/registry/registry-store.js';
import { CSV_HEADER, csvRow, ID_A, ID_B, ID_C } from '../registry/helpers.js';

const FACES = join(import.meta.dirname, '../../../shared/faces/people');
const group = () => readFileSync('node_modules/@vladmandic/face-api/demo/sample1.jpg');

// `sitegate hub workers enrol-face WORKER PHOTO` and `--pending`, through the real face pipeline (one worker).
describe('enrolment from photo files on the hub', () => {
  const dir = mkdtempSync(join(tmpdir(), 'photo-enrol-'));
  const stateDir = join(dir, 'state');
  let store: RegistryStore;
  // what startPhotoEnroller() builds (the CLI test runs that one), with the pool at hand for cropping
  const pool = new FacePool({ workers: 1 });
  const enroller: PhotoEnroller = { modelId: embedderModelId(), enrol: (b) => enrolFromPhoto(pool, b), stop: () => pool.stop() };

  beforeAll(async () => {
    store = new RegistryStore(join(dir, 'registry.db'), new ManualClock(Date.UTC(2026, 10, 21, 2)));
    const csv = [CSV_HEADER, csvRow({}), csvRow({ 姓名: '李四', 性别: '女', 身份证号: ID_B }), csvRow({ 姓名: '王五', 性别: '女', 身份证号: ID_C })].join('\n');
    expect(store.importRows(parseImportFile(Buffer.from(csv), 'w.csv').rows).added).toHaveLength(3);
    await pool.start();
  }, 120_000);

  afterAll(async () => {
    await enroller?.stop();
    store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a good portrait: template ready in one registry version, photo kept, the roster delta carries the template', async () => {
    const v = store.version();
    const r = await enrolPhoto(store, stateDir, ID_A, readFileSync(join(FACES, 'obama', '1.jpg')), enroller);
    expect(r).toMatchObject({ ok: true, workerId: 'W000001', faceId: 'W000001-F1', version: v + 1 });
    const face = store.get('W000001')!.credentials.faces[0];
    expect(face).toMatchObject({ state: 'ready', modelId: expect.stringMatching(/^@vladmandic\/face-api@[\d.]+\/face_recognition_model\.bin#/) });
    expect(decodeTemplate(face.template!)).toHaveLength(128);
    expect(readFileSync(join(stateDir, face.photoRef))).toEqual(readFileSync(join(FACES, 'obama', '1.jpg')));
    const delta = new RegistryRosterSource(store, 'SITE01').changesSince(v)!;
    expect(delta.upserts.map((w) => [w.workerId, w.faceTemplates])).toEqual([['W000001', [face.template]]]);
  });

  it('a group photo is refused with its reason and nothing is stored', async () => {
    const v = store.version();
    const r = await enrolPhoto(store, stateDir, 'W000002', group(), enroller);
    expect(r).toMatchObject({ ok: false, reason: 'several_faces', message: expect.stringContaining('exactly one') });
    expect(store.version()).toBe(v);
    expect(store.get('W000002')!.credentials.faces).toEqual([]);
  });

  it('an ID-card-size crop (the face alone, small, grey) is padded and enrolled', async () => {
    const src = readFileSync(join(FACES, 'obama', '2.jpg'));
    const frame = await decodeFrame(src);
    const b = (await pool.process(frame)).boxes[0].box;
    const { scale, offsetX, offsetY } = frame.letterbox;
    const crop = await sharp(src)
      .extract({ left: Math.max(0, Math.round((b.x - offsetX) / scale)), top: Math.max(0, Math.round((b.y - offsetY) / scale)), width: Math.round(b.width / scale), height: Math.round(b.height / scale) })
      .resize(150, 150, { fit: 'fill' })
      .greyscale()
      .jpeg()
      .toBuffer();
    const r = await enrolPhoto(store, stateDir, 'W000002', crop, enroller);
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true, faceId: 'W000002-F1' });
  });

  it('--pending: photos stored earlier get their templates; one without a usable face is marked failed with the reason', async () => {
    const kept = enrolPhotoPending(store, stateDir, 'W000003', readFileSync(join(FACES, 'obama', '3.jpg')));
    const wall = await sharp({ create: { width: 300, height: 300, channels: 3, background: { r: 120, g: 130, b: 140 } } }).png().toBuffer();
    const blank = enrolPhotoPending(store, stateDir, 'W000003', wall);
    expect(store.pendingFaces().map((p) => p.faceId)).toEqual([kept.faceId, blank.faceId]);
    const results = await enrolPending(store, stateDir, enroller);
    expect(results).toEqual([
      expect.objectContaining({ ok: true, faceId: 'W000003-F1' }),
      expect.objectContaining({ ok: false, faceId: 'W000003-F2', reason: 'no_face' }),
    ]);
    expect(store.pendingFaces()).toEqual([]);
    expect(store.get('W000003')!.credentials.faces.map((f) => [f.state, f.note])).toEqual([['ready', null], ['failed', 'no face found in the photo']]);
  });

  it('bytes that are no image are refused before the pipeline runs', async () => {
    writeFileSync(join(dir, 'x.jpg'), 'nope');
    await expect(enrolPhoto(store, stateDir, 'W000001', readFileSync(join(dir, 'x.jpg')), enroller)).rejects.toMatchObject({ code: 'photo_type' });
  });
});
