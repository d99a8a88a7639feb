import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { maskIdNumber } from '../../core/credential.js';
import { errorMessage, SitegateError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { IdCardSam, type IdCardSamOptions } from './idcard.js';
import { openSerialSamLink, type SamLink, type SamLinkOpener } from './idcard-serial.js';
import type { IdCardText } from './idcard-text.js';

/** A card read off the reader: the shape the gate wires like a Wiegand credential. */
export interface IdCardCredential {
  kind: 'idcard';
  /** The ID number. Personal data: log it only through maskIdNumber. */
  number: string;
  readAtMono: number;
  card: IdCardText;
  /** The raw 1024-byte WLT photo. */
  photo: Buffer;
}

export interface IdCardReaderHealth {
  state: 'starting' | 'ok' | 'fault';
  samId?: string;
  lastReadAtMs?: number;
  lastError?: string;
  faults: number;
}

export interface IdCardReaderEvents {
  credential: [IdCardCredential];
  fault: [SitegateError];
  recovered: [];
}

export interface IdCardReaderOptions extends IdCardSamOptions {
  /** Serial device; a `/dev/serial/by-id/...` symlink is resolved at every open. */
  path: string;
  /** Default 115200. */
  baudRate?: number;
  /** Pause between two polls (find → select → read), ms. Default 250. */
  pollMs?: number;
  /** How often a SAM id heartbeat replaces a poll, ms. Default 2000. */
  heartbeatMs?: number;
  /** Pause between two attempts to re-open a faulted reader, ms. Default 1000. */
  reopenMs?: number;
  /** Consecutive unanswered or spoiled exchanges that make a fault. Default 2. */
  faultAfter?: number;
  /** Consecutive polls without a card before the held card counts as removed. Default 2. */
  absentPollsToRelease?: number;
  log?: Logger;
  /** How to open the link (tests, other buses); defaults to serialport. */
  open?: SamLinkOpener;
}

/**
 * The polling cycle of a GA 467 ID card reader: find → select → read, the same card held on
 * the reader reported once, a SAM id heartbeat that notices a silent reader (a pty or USB peer
 * that vanished is only seen on the next write), faults reported once per outage, and the port
 * re-opened until the reader answers again.
 */
export class IdCardReader extends EventEmitter<IdCardReaderEvents> {
  private readonly pollMs: number;
  private readonly heartbeatMs: number;
  private readonly reopenMs: number;
  private readonly faultAfter: number;
  private readonly releaseAfter: number;
  private readonly opener: SamLinkOpener;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private link: SamLink | null = null;
  private sam: IdCardSam | null = null;
  private wake: (() => void) | null = null;
  private waitTimer: TimerHandle | null = null;
  private state: IdCardReaderHealth['state'] = 'starting';
  private samId: string | undefined;
  private lastReadAtMs: number | undefined;
  private lastError: string | undefined;
  private faults = 0;
  private misses = 0;
  private lastHeartbeat = 0;
  private held: string | null = null;
  private absent = 0;
  private readonly counts = { reads: 0, suppressed: 0, badCards: 0, samErrors: 0 };

  constructor(
    private readonly clock: Clock,
    private readonly options: IdCardReaderOptions,
  ) {
    super();
    this.pollMs = options.pollMs ?? 250;
    this.heartbeatMs = options.heartbeatMs ?? 2000;
    this.reopenMs = options.reopenMs ?? 1000;
    this.faultAfter = options.faultAfter ?? 2;
    this.releaseAfter = options.absentPollsToRelease ?? 2;
    this.opener = options.open ?? ((p) => openSerialSamLink(p, { baudRate: options.baudRate }));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.state = 'starting';
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.sam?.abort(new SitegateError('idcard_stopped', 'ID card reader stopped'));
    this.wakeUp();
    await this.loopDone;
    await this.closeLink();
  }

  health(): IdCardReaderHealth {
    const h: IdCardReaderHealth = { state: this.state, faults: this.faults };
    if (this.samId !== undefined) h.samId = this.samId;
    if (this.lastReadAtMs !== undefined) h.lastReadAtMs = this.lastReadAtMs;
    if (this.lastError !== undefined) h.lastError = this.lastError;
    return h;
  }

  stats(): { reads: number; suppressed: number; badCards: number; samErrors: number } {
    return { ...this.counts };
  }

  /** Asks the SAM for its id: over the running link, or over a port opened just for this. */
  async selftest(): Promise<{ ok: boolean; detail: string }> {
    if (this.sam && this.state === 'ok') return this.askSamId(this.sam);
    let link: SamLink | null = null;
    try {
      link = await this.opener(this.options.path);
      const sam = this.attach(link);
      return await this.askSamId(sam);
    } catch (err) {
      return { ok: false, detail: errorMessage(err) };
    } finally {
      await link?.close();
    }
  }

  private async askSamId(sam: IdCardSam): Promise<{ ok: boolean; detail: string }> {
    try {
      const r = await sam.samId();
      if (r.samId) return { ok: true, detail: `SAM ${r.samId}` };
      return { ok: false, detail: `SAM answered ${r.status.message}` };
    } catch (err) {
      return { ok: false, detail: errorMessage(err) };
    }
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (!this.sam) {
        const opened = await this.openAndCheck();
        if (!opened) {
          await this.wait(this.reopenMs);
          continue;
        }
      } else {
        try {
          if (this.clock.monotonic() - this.lastHeartbeat >= this.heartbeatMs) await this.heartbeat(this.sam);
          else await this.poll(this.sam);
          this.misses = 0;
        } catch (err) {
          await this.exchangeFailed(err);
          if (!this.sam) {
            await this.wait(this.reopenMs);
            continue;
          }
        }
      }
      await this.wait(this.pollMs);
    }
  }

  /** Opens the port and asks for the SAM id; true when the reader answered. */
  private async openAndCheck(): Promise<boolean> {
    try {
      this.link = await this.opener(this.options.path);
      if (!this.running) return false;
      this.sam = this.attach(this.link);
      await this.heartbeat(this.sam);
      this.misses = 0;
      return true;
    } catch (err) {
      await this.fault(asError(err, 'idcard_open_failed'));
      return false;
    }
  }

  private attach(link: SamLink): IdCardSam {
    const sam = new IdCardSam(link, this.clock, this.options);
    link.onData((chunk) => sam.feed(chunk));
    link.onClose((err) => sam.abort(err));
    return sam;
  }

  private async heartbeat(sam: IdCardSam): Promise<void> {
    this.lastHeartbeat = this.clock.monotonic();
    const r = await sam.samId();
    if (!r.samId) {
      throw new SitegateError('idcard_sam_failed', `ID card SAM at ${this.options.path} answered: ${r.status.message}`, { sw3: r.status.sw3 });
    }
    if (this.samId !== r.samId) this.options.log?.info({ path: this.options.path, samId: r.samId }, 'ID card SAM');
    this.samId = r.samId;
    if (this.state !== 'ok') {
      const wasFault = this.state === 'fault';
      this.state = 'ok';
      this.lastError = undefined;
      if (wasFault) {
        this.options.log?.info({ path: this.options.path }, 'ID card reader recovered');
        this.emit('recovered');
      }
    }
  }

  private async poll(sam: IdCardSam): Promise<void> {
    const r = await sam.readCard();
    const log = this.options.log;
    switch (r.kind) {
      case 'no_card':
        if (++this.absent >= this.releaseAfter) this.held = null;
        return;
      case 'sam_error':
        this.counts.samErrors++;
        this.lastError = `${r.step}: ${r.status.message}`;
        log?.warn({ path: this.options.path, step: r.step, sw3: r.status.sw3, status: r.status.kind }, 'ID card SAM error');
        return;
      case 'bad_card':
        this.counts.badCards++;
        this.absent = 0;
        this.lastError = `card rejected: ${r.message}`;
        log?.warn({ path: this.options.path, code: r.code, err: r.message }, 'ID card text rejected');
        return;
      case 'card': {
        this.absent = 0;
        const number = r.card.idNumber;
        if (this.held === number) {
          this.counts.suppressed++;
          return;
        }
        this.held = number;
        this.counts.reads++;
        this.lastReadAtMs = this.clock.now();
        log?.info({ path: this.options.path, id: maskIdNumber(number) }, 'ID card read');
        this.emit('credential', { kind: 'idcard', number, readAtMono: this.clock.monotonic(), card: r.card, photo: r.photo });
        return;
      }
    }
  }

  private async exchangeFailed(err: unknown): Promise<void> {
    const e = asError(err, 'idcard_io');
    const transient = e.code === 'idcard_timeout' || e.code === 'idcard_bad_frame' || e.code === 'idcard_bad_reply';
    if (transient && ++this.misses < this.faultAfter) {
      this.lastError = e.message;
      this.options.log?.warn({ path: this.options.path, code: e.code, err: e.message }, 'ID card exchange failed');
      return;
    }
    const fault = transient
      ? new SitegateError('idcard_silent', `ID card reader ${this.options.path} stopped answering (${this.misses} exchanges failed, last: ${e.message})`)
      : e;
    await this.fault(fault);
  }

  /** Reports a fault once per outage and drops the link; the loop re-opens it. */
  private async fault(err: SitegateError): Promise<void> {
    await this.closeLink();
    this.misses = 0;
    this.lastError = err.message;
    if (!this.running || this.state === 'fault') return;
    this.state = 'fault';
    this.faults++;
    this.options.log?.error({ path: this.options.path, code: err.code, err: err.message }, 'ID card reader fault');
    this.emit('fault', err);
  }

  private async closeLink(): Promise<void> {
    const link = this.link;
    this.link = null;
    this.sam = null;
    if (link) await link.close().catch(() => undefined);
  }

  private wait(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
      this.waitTimer = this.clock.setTimeout(() => this.wakeUp(), ms);
    });
  }

  private wakeUp(): void {
    if (this.waitTimer) this.clock.clearTimeout(this.waitTimer);
    this.waitTimer = null;
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

function asError(err: unknown, code: string): SitegateError {
  return err instanceof SitegateError ? err : new SitegateError(code, errorMessage(err));
}
