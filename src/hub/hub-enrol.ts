import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { decodeTemplate } from '../gate/face/face-templates.js';
import { faceEnrolMessageSchema, type FaceEnrolResult } from '../mqtt/enrol.js';
import { parsePayload } from '../mqtt/schemas.js';
import { storeEnrolmentPhoto } from './registry/face-photos.js';
import type { RegistryStore } from './registry/registry-store.js';

/** An answer arriving this long after its request expired is still taken (it was on its way). */
const LATE_GRACE_MS = 60_000;

export interface HubEnrolOptions {
  registry: () => RegistryStore;
  stateDir: () => string;
  clock: Clock;
  log: Logger;
  /** sends a result on hub/enrol */
  publish(result: FaceEnrolResult): void;
}

/**
 * The hub's side of enrolment at a gate: a gate's answer on `gate/<gateId>/enrol` is stored only
 * for a capture request the operator's CLI put on record for that gate and worker (a gate cannot
 * enrol anyone on its own), its template checked as the gates will check it, its photo kept with
 * the other enrolment photos. The registry's new version reaches every gate with the next roster
 * delta. Every answer, stored or not, is reported on `hub/enrol`.
 */
export class HubEnrol {
  readonly counters = { received: 0, stored: 0, refused: 0, malformed: 0, unrequested: 0 };

  constructor(private readonly opts: HubEnrolOptions) {}

  /** One message from `gate/<gateId>/enrol`; never throws (a database error is logged, the answer is lost, the CLI times out). */
  handle(topicGateId: string, payload: Buffer): void {
    try {
      this.receive(topicGateId, payload);
    } catch (err) {
      this.opts.log.error({ gateId: topicGateId, err: errorMessage(err) }, 'enrolment answer could not be handled');
    }
  }

  private receive(topicGateId: string, payload: Buffer): void {
    this.counters.received++;
    const { log } = this.opts;
    const parsed = parsePayload(faceEnrolMessageSchema, payload);
    if (!parsed.ok) {
      this.counters.malformed++;
      log.warn({ gateId: topicGateId, error: parsed.error }, 'malformed enrolment answer from a gate');
      return;
    }
    const m = parsed.value;
    const result = (ok: boolean, code: FaceEnrolResult['code'], message: string, extra: { faceId?: string; version?: number } = {}): FaceEnrolResult => ({
      v: 1, requestId: m.requestId, workerId: m.workerId, gateId: topicGateId, ok, code, message: message.slice(0, 500),
      faceId: extra.faceId ?? null, version: extra.version ?? null, atMs: this.opts.clock.now(),
    });
    const registry = this.opts.registry();
    const req = registry.faceCaptureRequest(m.requestId);
    const now = this.opts.clock.now();
    if (m.gateId !== topicGateId || !req || req.state !== 'waiting' || req.gateId !== topicGateId || req.workerId !== m.workerId || now > req.expiresMs + LATE_GRACE_MS) {
      this.counters.unrequested++;
      const why = m.gateId !== topicGateId ? `it names gate ${m.gateId}` : !req ? 'no such request' : req.state !== 'waiting' ? 'the request has ended' : now > req.expiresMs + LATE_GRACE_MS ? 'the request expired' : 'the request was for another gate or worker';
      log.warn({ gateId: topicGateId, requestId: m.requestId, workerId: m.workerId, why }, 'enrolment answer not stored: not requested');
      // an ended request's CLI has its result already; only an open one hears about a mismatch
      if (req?.state === 'waiting') this.opts.publish(result(false, 'not_requested', `answer from ${topicGateId} not stored: ${why}`));
      return;
    }
    let out: FaceEnrolResult;
    if (!m.ok) {
      out = result(false, m.code, `${topicGateId}: ${m.message}`);
    } else {
      out = this.store(registry, m, topicGateId, result);
    }
    registry.closeFaceCapture(m.requestId, { code: out.code, message: out.message, faceId: out.faceId });
    if (out.ok) this.counters.stored++;
    else this.counters.refused++;
    log.info({ gateId: topicGateId, requestId: m.requestId, workerId: m.workerId, code: out.code, faceId: out.faceId }, `enrolment at a gate: ${out.message}`);
    this.opts.publish(out);
  }

  private store(
    registry: RegistryStore,
    m: Extract<ReturnType<typeof faceEnrolMessageSchema.parse>, { ok: true }>,
    gateId: string,
    result: (ok: boolean, code: FaceEnrolResult['code'], message: string, extra?: { faceId?: string; version?: number }) => FaceEnrolResult,
  ): FaceEnrolResult {
    try {
      decodeTemplate(m.template);
    } catch (err) {
      return result(false, 'bad_template', `the template from ${gateId} was refused: ${errorMessage(err)}`);
    }
    const photo = Buffer.from(m.photo.jpegBase64, 'base64');
    if (createHash('sha256').update(photo).digest('hex') !== m.photo.sha256) return result(false, 'bad_photo', `the photo from ${gateId} does not match its SHA-256`);
    try {
      const stored = storeEnrolmentPhoto(this.opts.stateDir(), m.workerId, photo);
      const { record, face } = registry.enrolFace(m.workerId, stored, { template: Buffer.from(m.template, 'base64'), modelId: m.modelId });
      return result(true, 'stored', `${record.workerId} ${record.identity.name}: face ${face.faceId} enrolled at ${gateId} (eyes ${m.quality.eyeDistancePx.toFixed(0)} px apart, sharpness ${m.quality.sharpness.toFixed(0)})`, {
        faceId: face.faceId,
        version: registry.version(),
      });
    } catch (err) {
      const code = err instanceof SitegateError && (err.code === 'photo_type' || err.code === 'photo_too_large') ? 'bad_photo' : 'failed';
      return result(false, code, `not stored: ${errorMessage(err)}`);
    }
  }
}
