import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { photoAckSchema } from '../mqtt/photos.js';
import { parsePayload } from '../mqtt/schemas.js';
import { topics } from '../mqtt/topics.js';
import type { PhotoStore } from './punch/photo-store.js';

/** The part of an MQTT client the uploader uses. */
export interface PhotoLink {
  readonly connected: boolean;
  publish(topic: string, payload: string, opts: { qos: 1 }, callback?: (err?: Error) => void): unknown;
}

export interface PhotoUploaderOptions {
  store: PhotoStore;
  /** the gate's client (null while it has none) */
  link: () => PhotoLink | null;
  siteId: string;
  gateId: string;
  clock: Clock;
  log: Logger;
  /** photos published and not yet acknowledged, at most (default 4) */
  maxInFlight?: number;
  /** a photo the hub has not acknowledged is sent again after this long (default 30,000 ms) */
  resendMs?: number;
  /** the hub acknowledged these photos (already marked uploaded) */
  onAcked?: (hashes: readonly string[]) => void;
}

/**
 * Sends the face photos the hub does not have yet, oldest first, a few at a time, on
 * `gate/<gateId>/photo`; a photo is marked uploaded (and may be evicted) only when the hub names
 * it on `gate/<gateId>/photo/ack`. Unacknowledged photos go again after `resendMs`.
 */
export class PhotoUploader {
  readonly counters = { sent: 0, acked: 0, badAcks: 0, missing: 0 };
  /** hash → monotonic ms it was last sent */
  private readonly inFlight = new Map<string, number>();
  private timer: TimerHandle | null = null;
  private stopped = false;
  private readonly maxInFlight: number;
  private readonly resendMs: number;

  constructor(private readonly opts: PhotoUploaderOptions) {
    this.maxInFlight = opts.maxInFlight ?? 4;
    this.resendMs = opts.resendMs ?? 30_000;
  }

  get ackTopic(): string {
    return topics.gatePhotoAck(this.opts.siteId, this.opts.gateId);
  }

  start(): void {
    this.schedule();
    this.kick();
  }

  /** Sends what fits in flight now (a new photo, the link back up, an ack). */
  kick(): void {
    const link = this.opts.link();
    if (this.stopped || !link?.connected) return;
    const now = this.opts.clock.monotonic();
    for (const [hash, at] of this.inFlight) if (now - at >= this.resendMs) this.inFlight.delete(hash);
    if (this.inFlight.size >= this.maxInFlight) return;
    const pending = this.opts.store.pendingUpload(this.maxInFlight + this.inFlight.size);
    for (const hash of pending) {
      if (this.inFlight.size >= this.maxInFlight) break;
      if (this.inFlight.has(hash)) continue;
      const bytes = this.opts.store.get(hash);
      if (!bytes) {
        // the file is gone or damaged: nothing to send; mark it so it stops blocking the queue
        this.counters.missing++;
        this.opts.log.warn({ hash }, 'photo missing from the photo store; not sent');
        this.opts.store.markUploaded(hash);
        continue;
      }
      this.inFlight.set(hash, now);
      this.counters.sent++;
      link.publish(topics.gatePhoto(this.opts.siteId, this.opts.gateId), JSON.stringify({ hash, jpegBase64: bytes.toString('base64') }), { qos: 1 }, (err) => {
        if (err) {
          this.inFlight.delete(hash);
          this.opts.log.warn({ err: errorMessage(err) }, 'photo not published; sent again later');
        }
      });
    }
  }

  /** True when the topic was this gate's photo ack (handled or refused). */
  handleMessage(topic: string, payload: Buffer): boolean {
    if (topic !== this.ackTopic) return false;
    const r = parsePayload(photoAckSchema, payload);
    if (!r.ok) {
      this.counters.badAcks++;
      this.opts.log.warn({ error: r.error }, 'photo ack refused');
      return true;
    }
    for (const hash of r.value.photos) {
      this.opts.store.markUploaded(hash);
      this.inFlight.delete(hash);
      this.counters.acked++;
    }
    this.opts.onAcked?.(r.value.photos);
    this.kick();
    return true;
  }

  private schedule(): void {
    this.timer = this.opts.clock.setTimeout(() => {
      this.kick();
      if (!this.stopped) this.schedule();
    }, Math.max(1000, Math.floor(this.resendMs / 2)));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
