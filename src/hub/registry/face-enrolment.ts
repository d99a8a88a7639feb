import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { maskIdNumber } from '../../core/credential.js';
import { SitegateError } from '../../core/errors.js';
import type { EnrolOutcome } from '../../gate/face/enrol.js';
import { encodeTemplate } from '../../gate/face/face-templates.js';
import { photoTypeOf, storeEnrolmentPhoto } from './face-photos.js';
import type { RegistryStore } from './registry-store.js';

/** Turns photo bytes into a template or a refusal (the face pipeline; scripted in tests). */
export interface PhotoEnroller {
  /** the embedder's id, recorded with each template */
  readonly modelId: string;
  enrol(bytes: Uint8Array): Promise<EnrolOutcome>;
  stop(): Promise<void>;
}

export type PhotoEnrolResult =
  | { ok: true; workerId: string; faceId: string; photoRef: string; version: number }
  | { ok: false; workerId: string; faceId: string | null; reason: string; message: string };

/**
 * The face pipeline for the hub's CLI: one face worker, its models checked against the manifest.
 * Loaded on demand, so commands that do not enrol never load tfjs.
 */
export async function startPhotoEnroller(opts: { modelsDir?: string; manifestPath?: string } = {}): Promise<PhotoEnroller> {
  const [{ FacePool }, { enrolFromPhoto }, { embedderModelId }] = await Promise.all([
    import('../../gate/face/face-pool.js'),
    import('../../gate/face/enrol.js'),
    import('../../gate/gate-enrol.js'),
  ]);
  const pool = new FacePool({ workers: 1, ...opts });
  await pool.start();
  return {
    modelId: embedderModelId(opts.manifestPath),
    enrol: (bytes) => enrolFromPhoto(pool, bytes),
    stop: () => pool.stop(),
  };
}

/**
 * Enrols one photo: the face must pass the enrolment checks (exactly one face, large, sharp,
 * frontal); then the photo is kept and the template recorded ready in one registry version (the
 * gates get it with the next roster delta). A refused photo stores nothing.
 */
export async function enrolPhoto(store: RegistryStore, stateDir: string, ref: string, bytes: Uint8Array, enroller: PhotoEnroller): Promise<PhotoEnrolResult> {
  const w = store.find(ref);
  if (!w) throw notFound(ref);
  checkPhoto(bytes);
  const out = await enroller.enrol(bytes);
  if (!out.ok) return { ok: false, workerId: w.workerId, faceId: null, reason: out.reason, message: out.message };
  const stored = storeEnrolmentPhoto(stateDir, w.workerId, bytes);
  const { face } = store.enrolFace(w.workerId, stored, { template: templateBytes(out.descriptor), modelId: enroller.modelId });
  return { ok: true, workerId: w.workerId, faceId: face.faceId, photoRef: face.photoRef, version: store.version() };
}

/** Keeps a photo with its template pending (the face pipeline could not run now). */
export function enrolPhotoPending(store: RegistryStore, stateDir: string, ref: string, bytes: Uint8Array): { workerId: string; faceId: string; photoRef: string } {
  const w = store.find(ref);
  if (!w) throw notFound(ref);
  checkPhoto(bytes);
  const { face } = store.enrolFace(w.workerId, storeEnrolmentPhoto(stateDir, w.workerId, bytes));
  return { workerId: w.workerId, faceId: face.faceId, photoRef: face.photoRef };
}

/** Every enrolment left pending gets its template, or is marked failed with the reason. */
export async function enrolPending(store: RegistryStore, stateDir: string, enroller: PhotoEnroller): Promise<PhotoEnrolResult[]> {
  const results: PhotoEnrolResult[] = [];
  for (const p of store.pendingFaces()) {
    let out: EnrolOutcome;
    try {
      out = await enroller.enrol(readFileSync(join(stateDir, p.photoRef)));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (!code || typeof code !== 'string' || !code.startsWith('E')) throw err;
      out = { ok: false, reason: 'unreadable', message: `the stored photo ${p.photoRef} cannot be read: ${code}` };
    }
    if (out.ok) {
      store.setFaceTemplate(p.workerId, p.faceId, { template: templateBytes(out.descriptor), modelId: enroller.modelId });
      results.push({ ok: true, workerId: p.workerId, faceId: p.faceId, photoRef: p.photoRef, version: store.version() });
    } else {
      store.setFaceTemplate(p.workerId, p.faceId, { failed: out.message });
      results.push({ ok: false, workerId: p.workerId, faceId: p.faceId, reason: out.reason, message: out.message });
    }
  }
  return results;
}

function notFound(ref: string): SitegateError {
  return new SitegateError('worker_not_found', `no worker "${/^\d{17}[\dX]$/i.test(ref.trim()) ? maskIdNumber(ref.trim()) : ref}" in the registry`);
}

function checkPhoto(bytes: Uint8Array): void {
  if (!photoTypeOf(bytes)) throw new SitegateError('photo_type', 'the photo is not a JPEG, PNG or WebP image');
}

/** The roster's template bytes (face-templates.ts): 128 float32, little-endian. */
function templateBytes(descriptor: Float32Array): Buffer {
  return Buffer.from(encodeTemplate(descriptor), 'base64');
}
