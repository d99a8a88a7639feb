import type { Clock, TimerHandle } from '../../core/clock.js';
import { SitegateError } from '../../core/errors.js';
import {
  commandFrame,
  Ga467FrameParser,
  hex,
  type Ga467FrameError,
  type Ga467ParseResult,
} from './idcard-frame.js';
import { decodeIdText, TEXT_BYTES, type IdCardText, type IdTextErrorCode } from './idcard-text.js';

/**
 * The GA 467 resident ID card SAM protocol: find, select, read and the SAM id, over any
 * byte transport (serial port, simulator). Knows bytes, nothing about workers.
 */

/** The tiny interface a bus implements. */
export interface SamTransport {
  /** Sends bytes to the SAM; rejects (SitegateError) when the device is gone. */
  write(bytes: Buffer): Promise<void>;
}

export const COMMANDS = {
  find: [0x20, 0x01],
  select: [0x20, 0x02],
  read: [0x30, 0x01],
  samId: [0x12, 0xff],
} as const;
export type SamCommand = keyof typeof COMMANDS;

export const PHOTO_BYTES = 1024;
/** Data of a successful read reply: text length, photo length, text, photo. */
export const READ_DATA_BYTES = 4 + TEXT_BYTES + PHOTO_BYTES;
export const SAM_ID_BYTES = 16;

export type SamStatusKind =
  | 'ok'
  | 'found'
  | 'no_card'
  | 'no_content'
  | 'checksum_error'
  | 'length_error'
  | 'command_error'
  | 'not_permitted'
  | 'unrecognised_error'
  | 'sam_auth_failed'
  | 'card_auth_failed'
  | 'verify_failed'
  | 'wrong_card'
  | 'read_failed'
  | 'random_failed'
  | 'self_test_failed'
  | 'sam_not_authorised'
  | 'unknown';

/** SW3 of a reply, typed. */
export interface SamStatus {
  kind: SamStatusKind;
  sw3: number;
  message: string;
}

const SW3: Record<number, [SamStatusKind, string]> = {
  0x90: ['ok', 'operation succeeded'],
  0x91: ['no_content', 'the card holds nothing for this item'],
  0x9f: ['found', 'card found'],
  0x10: ['checksum_error', 'SAM received a frame with a bad checksum'],
  0x11: ['length_error', 'SAM received a frame with a bad length'],
  0x21: ['command_error', 'SAM rejected the command'],
  0x23: ['not_permitted', 'operation not permitted'],
  0x24: ['unrecognised_error', 'SAM reports an unrecognised error'],
  0x31: ['sam_auth_failed', 'card failed to authenticate the SAM'],
  0x32: ['card_auth_failed', 'SAM failed to authenticate the card'],
  0x33: ['verify_failed', 'information verification failed'],
  0x40: ['wrong_card', 'not a resident ID card'],
  0x41: ['read_failed', 'reading the card failed'],
  0x47: ['random_failed', 'getting a random number failed'],
  0x60: ['self_test_failed', 'SAM self-test failed, it accepts no commands'],
  0x66: ['sam_not_authorised', 'SAM is not authorised'],
  0x80: ['no_card', 'no card found'],
  0x81: ['no_card', 'selecting the card failed (no card)'],
};

export function samStatus(sw3: number): SamStatus {
  const known = SW3[sw3];
  if (known) return { kind: known[0], sw3, message: known[1] };
  return { kind: 'unknown', sw3, message: `unknown SW3 ${hex(sw3)}` };
}

export interface SamReply {
  sw1: number;
  sw2: number;
  status: SamStatus;
  data: Buffer;
}

/** Parses a reply body (SW1 SW2 SW3 DATA). */
export function parseReply(body: Buffer): SamReply {
  if (body.length < 3) throw new SitegateError('idcard_bad_reply', `reply of ${body.length} bytes has no SW1 SW2 SW3`);
  return { sw1: body[0], sw2: body[1], status: samStatus(body[2]), data: body.subarray(3) };
}

/** SAM id bytes → the printed form, e.g. 05.01-20101010-0012345678-1234567890. */
export function formatSamId(data: Buffer): string {
  const d = (n: number, w: number) => String(n).padStart(w, '0');
  return (
    `${d(data.readUInt16LE(0), 2)}.${d(data.readUInt16LE(2), 2)}-${d(data.readUInt32LE(4), 8)}` +
    `-${d(data.readUInt32LE(8), 10)}-${d(data.readUInt32LE(12), 10)}`
  );
}

export interface CardRead {
  kind: 'card';
  card: IdCardText;
  /** The raw 256-byte text block. */
  text: Buffer;
  /** The 1024-byte WLT photo, raw (decoding needs the licensed library). */
  photo: Buffer;
}

/** One find → select → read cycle's outcome. Transport failures are thrown instead. */
export type CardReadOutcome =
  | CardRead
  | { kind: 'no_card'; step: 'find' | 'select'; status: SamStatus }
  | { kind: 'sam_error'; step: 'find' | 'select' | 'read'; status: SamStatus }
  | { kind: 'bad_card'; code: IdTextErrorCode; message: string };

export interface IdCardSamOptions {
  /** Wait for a find, select or SAM id reply, ms. Default 500. */
  replyTimeoutMs?: number;
  /** Wait for a read reply (1295 bytes: 112 ms of wire at 115200 baud), ms. Default 1500. */
  readTimeoutMs?: number;
}

interface Pending {
  resolve: (r: SamReply) => void;
  reject: (e: SitegateError) => void;
  timer: TimerHandle;
}

export interface IdCardSamStats {
  frames: number;
  frameErrors: number;
  /** Frames that came when no reply was awaited (late or unsolicited). */
  unsolicited: number;
}

/**
 * One SAM on one transport. Feed it the bytes the transport receives; exchanges run one at a
 * time (queued), each waits on the Clock for its reply.
 */
export class IdCardSam {
  private readonly parser = new Ga467FrameParser({ minLength: 4 });
  private readonly replyTimeoutMs: number;
  private readonly readTimeoutMs: number;
  private pending: Pending | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closedBy: SitegateError | null = null;
  private readonly counts: IdCardSamStats = { frames: 0, frameErrors: 0, unsolicited: 0 };

  constructor(
    private readonly transport: SamTransport,
    private readonly clock: Clock,
    options: IdCardSamOptions = {},
  ) {
    this.replyTimeoutMs = options.replyTimeoutMs ?? 500;
    this.readTimeoutMs = options.readTimeoutMs ?? 1500;
  }

  stats(): IdCardSamStats {
    return { ...this.counts };
  }

  /** Bytes from the transport. */
  feed(chunk: Uint8Array): void {
    this.handle(this.parser.push(chunk));
  }

  /** The transport is gone: the waiting exchange and every later one fail with `err`. */
  abort(err: SitegateError): void {
    this.closedBy = err;
    this.parser.reset();
    this.settle(null, err);
  }

  async find(): Promise<SamStatus> {
    return (await this.exchange('find', this.replyTimeoutMs)).status;
  }

  async select(): Promise<SamStatus> {
    return (await this.exchange('select', this.replyTimeoutMs)).status;
  }

  /** The read reply's text block and photo, when SW3 says ok. */
  async read(): Promise<{ status: SamStatus; text?: Buffer; photo?: Buffer }> {
    const reply = await this.exchange('read', this.readTimeoutMs);
    if (reply.status.kind !== 'ok') return { status: reply.status };
    const d = reply.data;
    if (d.length !== READ_DATA_BYTES || d.readUInt16BE(0) !== TEXT_BYTES || d.readUInt16BE(2) !== PHOTO_BYTES) {
      throw new SitegateError(
        'idcard_bad_reply',
        `read reply carries ${d.length} data bytes (text ${d.length >= 2 ? d.readUInt16BE(0) : '?'}, photo ${d.length >= 4 ? d.readUInt16BE(2) : '?'}), expected ${READ_DATA_BYTES} (text ${TEXT_BYTES}, photo ${PHOTO_BYTES})`,
      );
    }
    return { status: reply.status, text: Buffer.from(d.subarray(4, 4 + TEXT_BYTES)), photo: Buffer.from(d.subarray(4 + TEXT_BYTES)) };
  }

  /** The SAM's id (the heartbeat: a SAM that answers this is alive). */
  async samId(): Promise<{ status: SamStatus; samId?: string }> {
    const reply = await this.exchange('samId', this.replyTimeoutMs);
    if (reply.status.kind !== 'ok') return { status: reply.status };
    if (reply.data.length !== SAM_ID_BYTES) {
      throw new SitegateError('idcard_bad_reply', `SAM id reply carries ${reply.data.length} bytes, expected ${SAM_ID_BYTES}`);
    }
    return { status: reply.status, samId: formatSamId(reply.data) };
  }

  /** find → select → read → decode. */
  async readCard(): Promise<CardReadOutcome> {
    const found = await this.find();
    if (found.kind === 'no_card') return { kind: 'no_card', step: 'find', status: found };
    if (found.kind !== 'found') return { kind: 'sam_error', step: 'find', status: found };
    const selected = await this.select();
    if (selected.kind === 'no_card') return { kind: 'no_card', step: 'select', status: selected };
    if (selected.kind !== 'ok') return { kind: 'sam_error', step: 'select', status: selected };
    const read = await this.read();
    if (!read.text || !read.photo) return { kind: 'sam_error', step: 'read', status: read.status };
    const decoded = decodeIdText(read.text);
    if (!decoded.ok) return { kind: 'bad_card', code: decoded.code, message: decoded.message };
    return { kind: 'card', card: decoded.card, text: read.text, photo: read.photo };
  }

  /** Sends one command and waits for its reply; exchanges are queued, never interleaved. */
  exchange(command: SamCommand, timeoutMs: number): Promise<SamReply> {
    const run = () => this.exchangeNow(command, timeoutMs);
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private exchangeNow(command: SamCommand, timeoutMs: number): Promise<SamReply> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    this.parser.reset();
    const [cmd, para] = COMMANDS[command];
    const reply = new Promise<SamReply>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        // a partial reply is reported as truncated (idcard_bad_frame) by handle()
        this.handle(this.parser.flush());
        if (this.pending) this.settle(null, timeoutError(command, timeoutMs));
      }, timeoutMs);
      this.pending = { resolve, reject, timer };
    });
    this.transport.write(commandFrame(cmd, para)).catch((err: unknown) => {
      this.settle(
        null,
        err instanceof SitegateError ? err : new SitegateError('idcard_io', `writing the ${command} command failed: ${String(err)}`),
      );
    });
    return reply;
  }

  private handle(results: Ga467ParseResult[]): void {
    let error: Ga467FrameError | null = null;
    for (const r of results) {
      if (!r.ok) {
        this.counts.frameErrors++;
        if (r.code !== 'garbage') error = r;
        continue;
      }
      this.counts.frames++;
      if (!this.pending) {
        this.counts.unsolicited++;
        continue;
      }
      // the parser's minLength of 4 guarantees SW1 SW2 SW3
      this.settle(parseReply(r.body), null);
      error = null;
    }
    if (error && this.pending) {
      this.settle(null, new SitegateError('idcard_bad_frame', `reply spoiled: ${error.code} (${error.message})`, { frameError: error.code }));
    }
  }

  private settle(reply: SamReply | null, err: SitegateError | null): void {
    const p = this.pending;
    if (!p) return;
    this.pending = null;
    this.clock.clearTimeout(p.timer);
    if (reply) p.resolve(reply);
    else p.reject(err!);
  }
}

function timeoutError(command: SamCommand, ms: number): SitegateError {
  return new SitegateError('idcard_timeout', `no ${command} reply within ${ms} ms`);
}
