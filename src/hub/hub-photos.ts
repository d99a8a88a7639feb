import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { MAX_IMAGE_BYTES } from '../municipal/national-wire.js';
import { photoMessageSchema } from '../mqtt/photos.js';
import { parsePayload } from '../mqtt/schemas.js';
import { writeFileDurably } from '../storage/durable-file.js';

export type PhotoRejectReason = 'malformed' | 'hash_mismatch' | 'not_jpeg' | 'too_large' | 'write_failed';

export type PhotoOutcome =
  | { kind: 'stored' | 'known'; hash: string }
  | { kind: 'rejected'; reason: PhotoRejectReason; detail: string };

export interface HubPhotosOptions {
  /** stateDir/photos */
  dir: string;
  /** JPEG bytes a photo may have (read at each photo: a reload may change it) */
  maxBytes: () => number;
  log: Logger;
}

/**
 * The photos gates publish apart from their punches, one file each under its SHA-256, written
 * and synced before the gate is told it may evict its copy. The platform takes at most
 * MAX_IMAGE_BYTES of JPEG, so a larger photo also gets a smaller copy for the platform.
 */
export class HubPhotos {
  readonly counters: Record<PhotoRejectReason | 'received' | 'stored' | 'known' | 'reduced' | 'notReducible', number> = {
    received: 0, stored: 0, known: 0, reduced: 0, notReducible: 0, malformed: 0, hash_mismatch: 0, not_jpeg: 0, too_large: 0, write_failed: 0,
  };

  constructor(private readonly opts: HubPhotosOptions) {}

  start(): void {
    mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 });
  }

  /** Checks a `gate/<id>/photo` payload and stores the photo; never throws. */
  async receive(payload: Buffer): Promise<PhotoOutcome> {
    this.counters.received++;
    const outcome = await this.evaluate(payload);
    this.counters[outcome.kind === 'rejected' ? outcome.reason : outcome.kind]++;
    return outcome;
  }

  has(hash: string): boolean {
    return existsSync(this.pathOf(hash));
  }

  /** The photo as the platform's `image` (base64 JPEG ≤ MAX_IMAGE_BYTES), or null when the hub has none that fits. */
  platformImage(hash: string): string | null {
    for (const path of [this.pathOf(hash, 'platform'), this.pathOf(hash)]) {
      try {
        if (statSync(path).size <= MAX_IMAGE_BYTES) return readFileSync(path).toString('base64');
      } catch {
        /* not there */
      }
    }
    return null;
  }

  private async evaluate(payload: Buffer): Promise<PhotoOutcome> {
    const parsed = parsePayload(photoMessageSchema, payload);
    if (!parsed.ok) return rejected('malformed', parsed.error);
    const { hash, jpegBase64 } = parsed.value;
    const bytes = Buffer.from(jpegBase64, 'base64');
    const max = this.opts.maxBytes();
    if (bytes.length > max) return rejected('too_large', `${bytes.length} bytes; photos.maxBytes is ${max}`);
    if (createHash('sha256').update(bytes).digest('hex') !== hash) return rejected('hash_mismatch', 'the bytes do not hash to the name they came with');
    if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8 || bytes[2] !== 0xff) return rejected('not_jpeg', 'not a JPEG (no FF D8 FF start)');
    if (this.has(hash)) return { kind: 'known', hash };
    try {
      if (bytes.length > MAX_IMAGE_BYTES) {
        const small = await reduceForPlatform(bytes);
        if (small) {
          writeFileDurably(this.pathOf(hash, 'platform'), small);
          this.counters.reduced++;
        } else this.counters.notReducible++;
      }
      // the original last: its presence is what says "stored"
      writeFileDurably(this.pathOf(hash), bytes);
    } catch (err) {
      this.opts.log.error({ err: errorMessage(err) }, 'photo not stored');
      return rejected('write_failed', errorMessage(err));
    }
    return { kind: 'stored', hash };
  }

  private pathOf(hash: string, variant?: 'platform'): string {
    return join(this.opts.dir, hash.slice(0, 2), variant ? `${hash}.${variant}.jpg` : `${hash}.jpg`);
  }
}

function rejected(reason: PhotoRejectReason, detail: string): PhotoOutcome {
  return { kind: 'rejected', reason, detail };
}

/** Smaller sizes and qualities until the JPEG fits the platform's limit; null when none does (or it does not decode). */
async function reduceForPlatform(jpeg: Buffer): Promise<Buffer | null> {
  const { default: sharp } = await import('sharp');
  try {
    for (const width of [640, 480, 320]) {
      for (const quality of [80, 65, 50]) {
        const out = await sharp(jpeg).rotate().resize({ width, withoutEnlargement: true }).jpeg({ quality, mozjpeg: false }).toBuffer();
        if (out.length <= MAX_IMAGE_BYTES) return out;
      }
    }
  } catch {
    return null;
  }
  return null;
}
