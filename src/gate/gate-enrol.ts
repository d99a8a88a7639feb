// Enrolment at the gate (`capture-face`): while a capture waits, every frame the face station
// sends to the face workers is judged by the enrolment rules instead (exactly one face, large,
// sharp, frontal, and live by the models), and the station is shown no face, so the person being
// enrolled neither opens the turnstile nor counts as an unknown face. The first good frame gives
// the template and photo, published on `gate/<gateId>/enrol`; none in time gives a timeout.
import { createHash } from 'node:crypto';
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { FaceEnrolMessage } from '../mqtt/enrol.js';
import { defaultEnrolQuality, judgeEnrolment, type EnrolQuality } from './face/enrol.js';
import { facePhoto } from './face/face-station.js';
import { encodeTemplate } from './face/face-templates.js';
import type { FaceResult, RgbFrame } from './face/face-types.js';
import { defaultManifestPath, readModelManifest } from './face/models.js';
import type { GateFaceProcessor } from './gate-face.js';

export interface CaptureRequest {
  workerId: string;
  requestId: string;
  timeoutMs: number;
}

export interface GateEnrolOptions {
  gateId: string;
  /** the face workers the station would use (a FacePool, or a scripted one in tests) */
  inner: GateFaceProcessor;
  clock: Clock;
  log: Logger;
  /** sends a message on gate/<gateId>/enrol */
  publish(msg: FaceEnrolMessage): void;
  /** whether face matching runs, or why not (a refusal for the operator) */
  available(): { ok: true } | { ok: false; why: string };
  quality?: EnrolQuality;
  /** model liveness a captured face needs (default 0.5 each, as the station's) */
  minAntispoof?: number;
  minLiveness?: number;
  /** longest side of the enrolment photo (default 480 px) */
  photoSide?: number;
  /** the embedder's id recorded with the template (default read from models/manifest.json) */
  modelId?: string;
}

interface Waiting extends CaptureRequest {
  untilMs: number;
  timer: TimerHandle;
  frames: number;
  lastRefusal: string | null;
}

export interface GateEnrolStatus {
  waiting: { requestId: string; workerId: string; untilMs: number; frames: number } | null;
  captured: number;
  timeouts: number;
  replaced: number;
  last: { requestId: string; workerId: string; ok: boolean; code: string; atMs: number } | null;
}

/** The id of the face descriptor model in the manifest: package@version/file#sha256-prefix. */
export function embedderModelId(manifestPath = defaultManifestPath): string {
  try {
    const e = readModelManifest(manifestPath).files.find((f) => f.file.startsWith('face_recognition_model') && f.file.endsWith('.bin'));
    return e ? `${e.package}@${e.version}/${e.file}#${e.sha256.slice(0, 12)}` : 'unknown';
  } catch {
    return 'unknown';
  }
}

const NO_FACE = (r: FaceResult): FaceResult => ({ faces: 0, boxes: [], timings: r.timings });

export class GateEnrol {
  readonly counters = { captured: 0, timeouts: 0, replaced: 0, framesJudged: 0 };
  /** What GateFace is given as its face workers. */
  readonly processor: GateFaceProcessor;
  private waiting: Waiting | null = null;
  private last: GateEnrolStatus['last'] = null;
  private readonly modelId: string;

  constructor(private readonly opts: GateEnrolOptions) {
    this.modelId = opts.modelId ?? embedderModelId();
    const inner = opts.inner;
    this.processor = {
      process: (frame, o) => this.process(frame, o),
      ...(inner.start ? { start: () => inner.start!() } : {}),
      ...(inner.stop ? { stop: () => inner.stop!() } : {}),
    };
  }

  /** Starts waiting for a face for this worker; a capture already waiting is answered `replaced`. */
  begin(req: CaptureRequest): { ok: true; untilMs: number } | { ok: false; code: 'unavailable'; message: string } {
    const can = this.opts.available();
    if (!can.ok) return { ok: false, code: 'unavailable', message: `this gate cannot enrol faces: ${can.why}` };
    const old = this.waiting;
    if (old) {
      this.end(old);
      this.counters.replaced++;
      this.fail(old, 'replaced', `replaced by request ${req.requestId} for ${req.workerId}`);
    }
    const untilMs = this.opts.clock.now() + req.timeoutMs;
    const w: Waiting = { ...req, untilMs, frames: 0, lastRefusal: null, timer: null as unknown as TimerHandle };
    w.timer = this.opts.clock.setTimeout(() => {
      if (this.waiting !== w) return;
      this.waiting = null;
      this.counters.timeouts++;
      const seen = w.frames ? `${w.frames} frame(s) judged${w.lastRefusal ? `; the last: ${w.lastRefusal}` : ''}` : 'no frame with a face reached the station';
      this.fail(w, 'timeout', `no good face within ${Math.round(req.timeoutMs / 1000)} s (${seen})`);
    }, req.timeoutMs);
    this.waiting = w;
    this.opts.log.info({ workerId: req.workerId, requestId: req.requestId, timeoutMs: req.timeoutMs }, 'waiting for a face to enrol');
    return { ok: true, untilMs };
  }

  status(): GateEnrolStatus {
    const w = this.waiting;
    return {
      waiting: w ? { requestId: w.requestId, workerId: w.workerId, untilMs: w.untilMs, frames: w.frames } : null,
      captured: this.counters.captured,
      timeouts: this.counters.timeouts,
      replaced: this.counters.replaced,
      last: this.last,
    };
  }

  /** The gate stops: a capture still waiting is answered `stopped`. */
  stop(): void {
    const w = this.waiting;
    if (!w) return;
    this.end(w);
    this.fail(w, 'stopped', 'the gate stopped before a good face was seen');
  }

  private async process(frame: RgbFrame, o?: { ir?: RgbFrame }): Promise<FaceResult> {
    const r = await this.opts.inner.process(frame, o);
    const w = this.waiting;
    if (!w) return r;
    w.frames++;
    this.counters.framesJudged++;
    const judged = judgeEnrolment(r, this.opts.quality ?? defaultEnrolQuality);
    if (!judged.ok) {
      w.lastRefusal = judged.message;
      return NO_FACE(r);
    }
    const face = judged.face;
    const { antispoof, liveness } = face.liveness;
    if (antispoof < (this.opts.minAntispoof ?? 0.5) || liveness < (this.opts.minLiveness ?? 0.5)) {
      w.lastRefusal = `the face did not pass the liveness models (antispoof ${antispoof.toFixed(2)}, liveness ${liveness.toFixed(2)})`;
      return NO_FACE(r);
    }
    // this frame takes it: later frames already in flight find nothing waiting
    this.end(w);
    try {
      const photo = await facePhoto(frame, face.box, this.opts.photoSide ?? 480);
      const msg: FaceEnrolMessage = {
        v: 1,
        requestId: w.requestId,
        workerId: w.workerId,
        gateId: this.opts.gateId,
        atMs: this.opts.clock.now(),
        ok: true,
        template: encodeTemplate(face.descriptor),
        modelId: this.modelId,
        photo: { sha256: createHash('sha256').update(photo).digest('hex'), jpegBase64: photo.toString('base64') },
        quality: { eyeDistancePx: face.eyeDistancePx, sharpness: face.sharpness, ...face.pose, antispoof, liveness },
      };
      this.counters.captured++;
      this.note(w, true, 'captured');
      this.opts.publish(msg);
      this.opts.log.info({ workerId: w.workerId, requestId: w.requestId, frames: w.frames }, 'face captured for enrolment');
    } catch (err) {
      this.opts.log.warn({ err: errorMessage(err) }, 'captured face could not be sent');
    }
    return NO_FACE(r);
  }

  private end(w: Waiting): void {
    if (this.waiting === w) this.waiting = null;
    this.opts.clock.clearTimeout(w.timer);
  }

  private fail(w: Waiting, code: 'timeout' | 'stopped' | 'replaced', message: string): void {
    this.note(w, false, code);
    this.opts.log.info({ workerId: w.workerId, requestId: w.requestId, code }, `face enrolment ended: ${message}`);
    this.opts.publish({ v: 1, requestId: w.requestId, workerId: w.workerId, gateId: this.opts.gateId, atMs: this.opts.clock.now(), ok: false, code, message: message.slice(0, 500) });
  }

  private note(w: Waiting, ok: boolean, code: string): void {
    this.last = { requestId: w.requestId, workerId: w.workerId, ok, code, atMs: this.opts.clock.now() };
  }
}
