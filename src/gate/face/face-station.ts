// The gate side of face matching for one lane: frames (from a FrameSource) → face workers → a burst
// of the chosen face → liveness per the site's policy → 1:N search in the roster's index → one
// event: `credential` (a worker was recognised, alive), `spoof` (liveness failed) or `no_match`.
// After an event the station rests for `cooldownMs`, so one person in front of the camera gives
// one event. The main thread runs no model here: FacePool does the work in its threads.
import { EventEmitter } from 'node:events';
import sharp from 'sharp';
import type { Clock } from '../../core/clock.js';
import type { Direction } from '../../core/entries.js';
import { errorMessage } from '../../core/errors.js';
import { meanDescriptor } from './embedder.js';
import type { FaceIndex, FaceMatch } from './face-index.js';
import type { Box, ChosenFace, FaceResult, LivenessScores, RgbFrame } from './face-types.js';
import { motionLiveness, type MotionLivenessOptions, type MotionLivenessResult } from './motion-liveness.js';

export type LivenessPolicy = 'model-only' | 'model+motion' | 'model+motion+ir';
export const LIVENESS_POLICIES: readonly LivenessPolicy[] = ['model-only', 'model+motion', 'model+motion+ir'];

/** What the station needs of the face workers (FacePool has it). */
export interface FaceProcessor {
  process(frame: RgbFrame, opts?: { ir?: RgbFrame }): Promise<FaceResult>;
}

export interface FaceStationOptions {
  lane: string;
  direction: Direction;
  policy: LivenessPolicy;
  clock: Clock;
  /** Frames of one face judged together by the motion check (default 8). */
  burstFrames?: number;
  /** A burst older than this is started again (default 2,000 ms). */
  burstWindowMs?: number;
  /** Model liveness: median antispoof score at least this (default 0.5). */
  minAntispoof?: number;
  /** Model liveness: median liveness score at least this (default 0.5). */
  minLiveness?: number;
  /** Frames ignored after an event (default 3,000 ms). */
  cooldownMs?: number;
  motion?: Partial<MotionLivenessOptions>;
  /** Longest side of the JPEG photo of the face (default 240 px: well under the platform's 50 KB). */
  photoSide?: number;
}

export interface FaceLivenessReport {
  policy: LivenessPolicy;
  /** Median model scores over the frames judged. */
  antispoof: number;
  liveness: number;
  /** The multi-frame check (absent under 'model-only'). */
  motion?: { live: boolean; reason: string };
  /** Faces in the IR frame (policy 'model+motion+ir'). */
  irFaces?: number;
}

export interface FaceCredential {
  kind: 'face';
  workerId: string;
  score: number;
  margin: number;
  liveness: FaceLivenessReport;
  /** JPEG of the face (the punch photo). */
  photo: Buffer;
  lane: string;
  direction: Direction;
  /** Monotonic ms when the frame that completed the decision arrived. */
  readAtMono: number;
}

export type SpoofReason = 'model_antispoof' | 'model_liveness' | 'motion' | 'no_ir_face';

export interface FaceSpoof {
  reason: SpoofReason;
  liveness: FaceLivenessReport;
  photo: Buffer;
  lane: string;
  readAtMono: number;
}

export interface FaceNoMatch {
  reason: 'below_threshold' | 'ambiguous' | 'empty_index';
  best?: FaceMatch;
  liveness: FaceLivenessReport;
  photo: Buffer;
  lane: string;
  readAtMono: number;
}

export interface FaceStationEvents {
  credential: [FaceCredential];
  spoof: [FaceSpoof];
  no_match: [FaceNoMatch];
  error: [Error];
}

interface BurstFrame {
  at: number;
  face: ChosenFace;
  irFaces?: number;
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export class FaceStation extends EventEmitter<FaceStationEvents> {
  readonly counters = { frames: 0, noFace: 0, refused: 0, credentials: 0, spoofs: 0, noMatches: 0, cooldown: 0, errors: 0 };
  private readonly o: Required<Omit<FaceStationOptions, 'motion'>> & { motion: Partial<MotionLivenessOptions> };
  private burst: BurstFrame[] = [];
  private restUntil = -Infinity;
  private running = false;
  /** The newest live face, for card + face (1:1). */
  private lastLive: { at: number; descriptor: Float32Array } | undefined;

  constructor(
    private readonly faces: FaceProcessor,
    private readonly index: FaceIndex,
    opts: FaceStationOptions,
  ) {
    super();
    if (!LIVENESS_POLICIES.includes(opts.policy)) throw new TypeError(`liveness policy must be one of ${LIVENESS_POLICIES.join(', ')}, got ${String(opts.policy)}`);
    this.o = {
      burstFrames: 8, burstWindowMs: 2000, minAntispoof: 0.5, minLiveness: 0.5, cooldownMs: 3000, photoSide: 240, motion: {},
      ...opts,
    };
    if (!Number.isInteger(this.o.burstFrames) || this.o.burstFrames < 2) throw new TypeError(`burstFrames must be an integer ≥ 2, got ${this.o.burstFrames}`);
  }

  get policy(): LivenessPolicy {
    return this.o.policy;
  }

  start(): void {
    this.running = true;
  }

  stop(): void {
    this.running = false;
    this.burst = [];
    this.lastLive = undefined;
  }

  /**
   * One camera frame (and the IR camera's, under 'model+motion+ir'). Resolves when the frame is
   * judged; errors are counted and emitted, never thrown at the frame source.
   */
  async offer(frame: RgbFrame, ir?: RgbFrame): Promise<void> {
    if (!this.running) return;
    const at = this.o.clock.monotonic();
    this.counters.frames++;
    if (at < this.restUntil) {
      this.counters.cooldown++;
      return;
    }
    try {
      const needIr = this.o.policy === 'model+motion+ir';
      const r = await this.faces.process(frame, needIr ? { ir: ir ?? blackFrame(frame) } : {});
      if (!this.running) return;
      if (r.refused === 'no_ir_face' && r.faces > 0) {
        await this.decideSpoof('no_ir_face', this.report([], undefined, 0), frame, r.boxes[0].box, at);
        return;
      }
      if (!r.chosen) {
        if (r.faces === 0) this.counters.noFace++;
        else this.counters.refused++;
        this.burst = [];
        return;
      }
      this.burst = this.burst.filter((b) => at - b.at <= this.o.burstWindowMs);
      this.burst.push({ at, face: r.chosen, irFaces: r.irFaces });
      const needed = this.o.policy === 'model-only' ? 1 : this.o.burstFrames;
      if (this.burst.length < needed) return;
      await this.decide(frame, at);
    } catch (err) {
      this.counters.errors++;
      this.emit('error', err instanceof Error ? err : new Error(errorMessage(err)));
    }
  }

  /** 1:1 for card + face: the newest live face (within the burst window) against the worker's templates. */
  verifyRecent(workerId: string): { accepted: boolean; score: number } | null {
    if (!this.lastLive || this.o.clock.monotonic() - this.lastLive.at > this.o.burstWindowMs) return null;
    const v = this.index.verify(workerId, this.lastLive.descriptor);
    return 'rejected' in v ? { accepted: false, score: -1 } : { accepted: v.accepted, score: v.score };
  }

  private report(burst: BurstFrame[], motion?: MotionLivenessResult, irFaces?: number): FaceLivenessReport {
    return {
      policy: this.o.policy,
      antispoof: burst.length ? median(burst.map((b) => b.face.liveness.antispoof)) : 0,
      liveness: burst.length ? median(burst.map((b) => b.face.liveness.liveness)) : 0,
      ...(motion ? { motion: { live: motion.live, reason: motion.reason } } : {}),
      ...(irFaces !== undefined ? { irFaces } : {}),
    };
  }

  private async decide(frame: RgbFrame, at: number): Promise<void> {
    const burst = this.burst;
    const last = burst[burst.length - 1];
    const motion = this.o.policy === 'model-only'
      ? undefined
      : motionLiveness(burst.map((b) => ({ landmarks: b.face.landmarks, box: b.face.box, descriptor: b.face.descriptor })), this.o.motion);
    if (motion?.reason === 'bad_landmarks') {
      this.burst = [];
      return;
    }
    const irFaces = this.o.policy === 'model+motion+ir' ? Math.min(...burst.map((b) => b.irFaces ?? 0)) : undefined;
    const rep = this.report(burst, motion, irFaces);
    const model: LivenessScores = { antispoof: rep.antispoof, liveness: rep.liveness };
    if (model.antispoof < this.o.minAntispoof) return this.decideSpoof('model_antispoof', rep, frame, last.face.box, at);
    if (model.liveness < this.o.minLiveness) return this.decideSpoof('model_liveness', rep, frame, last.face.box, at);
    if (motion && !motion.live) return this.decideSpoof('motion', rep, frame, last.face.box, at);
    // The burst's descriptors averaged: less noise than any one frame.
    const descriptor = meanDescriptor(burst.map((b) => b.face.descriptor));
    this.lastLive = { at, descriptor };
    const found = this.index.search(descriptor);
    const photo = await facePhoto(frame, last.face.box, this.o.photoSide);
    this.rest(at);
    if ('rejected' in found) {
      this.counters.noMatches++;
      this.emit('no_match', { reason: found.rejected, best: found.best, liveness: rep, photo, lane: this.o.lane, readAtMono: at });
      return;
    }
    this.counters.credentials++;
    this.emit('credential', {
      kind: 'face', workerId: found.workerId, score: found.score, margin: found.margin, liveness: rep, photo,
      lane: this.o.lane, direction: this.o.direction, readAtMono: at,
    });
  }

  private async decideSpoof(reason: SpoofReason, liveness: FaceLivenessReport, frame: RgbFrame, box: Box, at: number): Promise<void> {
    const photo = await facePhoto(frame, box, this.o.photoSide);
    this.rest(at);
    this.counters.spoofs++;
    this.emit('spoof', { reason, liveness, photo, lane: this.o.lane, readAtMono: at });
  }

  private rest(at: number): void {
    this.burst = [];
    this.restUntil = at + this.o.cooldownMs;
  }
}

function blackFrame(f: RgbFrame): RgbFrame {
  return { width: f.width, height: f.height, data: new Uint8Array(f.width * f.height * 3) };
}

/** The face with some context (1.6 × its box, clipped to the frame) as a JPEG at most `side` px. */
export async function facePhoto(frame: RgbFrame, box: Box, side: number): Promise<Buffer> {
  const s = Math.max(box.width, box.height) * 1.6;
  const left = Math.max(0, Math.round(box.x + box.width / 2 - s / 2));
  const top = Math.max(0, Math.round(box.y + box.height / 2 - s / 2));
  const width = Math.max(1, Math.min(frame.width - left, Math.round(s)));
  const height = Math.max(1, Math.min(frame.height - top, Math.round(s)));
  return sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .extract({ left, top, width, height })
    .resize(side, side, { fit: 'inside', withoutEnlargement: true })
    .jpeg({ quality: 80 })
    .toBuffer();
}
