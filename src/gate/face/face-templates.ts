// A face template as the roster carries it (`faceTemplates`: strings): base64 of the 128 float32
// values of the descriptor at DESCRIPTOR_SCALE, little-endian (512 bytes, 684 characters). Parsed
// at the border: a template of the wrong size, with a non-finite value or a length no face
// descriptor has is refused with a reason, counted by the caller, and never reaches the index.
import { SitegateError } from '../../core/errors.js';
import type { FaceIndex } from './face-index.js';
import { TEMPLATE_LENGTH_RANGE } from './match-threshold.js';

export const TEMPLATE_DIM = 128;
const BYTES = TEMPLATE_DIM * 4;

export function encodeTemplate(descriptor: Float32Array): string {
  if (descriptor.length !== TEMPLATE_DIM) throw new SitegateError('face_template', `a face template has ${TEMPLATE_DIM} values, got ${descriptor.length}`);
  const buf = Buffer.alloc(BYTES);
  for (let i = 0; i < TEMPLATE_DIM; i++) buf.writeFloatLE(descriptor[i], i * 4);
  return buf.toString('base64');
}

/** The descriptor held in a roster template; throws a SitegateError naming what is wrong. */
export function decodeTemplate(text: string): Float32Array {
  const buf = Buffer.from(text, 'base64');
  if (buf.length !== BYTES) throw new SitegateError('face_template', `a face template decodes to ${BYTES} bytes, this one to ${buf.length}`);
  const out = new Float32Array(TEMPLATE_DIM);
  let norm = 0;
  for (let i = 0; i < TEMPLATE_DIM; i++) {
    const v = buf.readFloatLE(i * 4);
    if (!Number.isFinite(v)) throw new SitegateError('face_template', `a face template holds a non-finite value at ${i}`);
    out[i] = v;
    norm += v * v;
  }
  norm = Math.sqrt(norm);
  const { min, max } = TEMPLATE_LENGTH_RANGE;
  if (norm < min || norm > max) throw new SitegateError('face_template', `a face template's length must be between ${min} and ${max}, this one's is ${norm.toFixed(3)}`);
  return out;
}

export interface RosterTemplatesLoad {
  workers: number;
  templates: number;
  /** Templates refused (each worker keeps its good ones). */
  bad: number;
  badWorkers: string[];
}

/**
 * Replaces the index's content with the roster's templates (RosterStore.faceTemplates()). A bad
 * template is skipped and counted; a worker left without a good one is not in the index.
 */
export function loadRosterTemplates(index: FaceIndex, roster: Iterable<{ workerId: string; templates: readonly string[] }>): RosterTemplatesLoad {
  const load: RosterTemplatesLoad = { workers: 0, templates: 0, bad: 0, badWorkers: [] };
  const seen = new Set<string>();
  for (const { workerId, templates } of roster) {
    seen.add(workerId);
    const good: Float32Array[] = [];
    for (const t of templates) {
      try {
        good.push(decodeTemplate(t));
      } catch {
        load.bad++;
        if (!load.badWorkers.includes(workerId)) load.badWorkers.push(workerId);
      }
    }
    index.replace(workerId, good);
    if (good.length) {
      load.workers++;
      load.templates += good.length;
    }
  }
  for (const id of index.workerIds()) if (!seen.has(id)) index.remove(id);
  return load;
}
