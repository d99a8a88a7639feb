import { sleep, type Clock } from '../core/clock.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type {
  PlatformFailureKind,
  PlatformProfile,
  PlatformReply,
  QueryResult,
  RowResult,
} from '../municipal/profile.js';
import type { AcquireOptions, Pacer } from './pacer.js';
import { MAX_ROWS_PER_REQUEST, toAttendanceBatch, type UploadBatch, type UploadQueue } from './upload-queue.js';

export type ForwarderMode = 'auto' | 'joint-test';

/** Something an operator must fix before the platform is called again. */
export interface ForwarderFault {
  kind: PlatformFailureKind;
  code?: number;
  httpStatus?: number;
  message: string;
  atMs: number;
  /** Why the pacer is halted, as shown on the status topic. */
  haltedReason: string;
}

export interface ForwarderOptions {
  queue: UploadQueue;
  profile: PlatformProfile;
  pacer: Pacer;
  clock: Clock;
  log: Logger;
  /**
   * 'auto' sends whenever rows wait; 'joint-test' (Shanghai: no timer-driven calls while
   * joint-testing on the production platform) sends only on an operator's uploadNow().
   */
  mode: ForwarderMode;
  /** Wait after an upload, and between polls, before asking for its result. */
  pollDelayMs: number;
  /** Rows per request, ≤ 20. */
  maxRowsPerRequest?: number;
  /** Result polls per request before the rows go back to pending (they are then re-sent). */
  maxPolls?: number;
  onFault?: (fault: ForwarderFault) => void;
}

export interface ForwarderCounters {
  /** Every request made: uploads and result polls. */
  requests: number;
  uploads: number;
  polls: number;
  rowsDelivered: number;
  rowsDuplicate: number;
  rowsRejected: number;
  /** Replies that could not be used (bad_reply, malformed results, thrown by the profile). */
  badReplies: number;
  /** Wall time of the last upload the platform took, or null. */
  lastUploadMs: number | null;
  lastError: { kind: string; code?: number; message: string; atMs: number } | null;
  faults: number;
}

export type UploadNowResult =
  | { ok: true; requests: number; rowsSent: number; delivered: number; rejected: number; returned: number }
  | { ok: false; code: 'wrong_mode' | 'stopped' | 'busy' | 'bad_count'; message: string }
  | {
      ok: false;
      code: 'platform_error';
      message: string;
      kind: string;
      requests: number;
      rowsSent: number;
      delivered: number;
      rejected: number;
      returned: number;
    };

/** How one batch ended. */
interface BatchOutcome {
  delivered: number;
  rejected: number;
  /** rows back to pending */
  returned: number;
  /** a failure that was not retried (joint-test, stop, halt), for the caller to report */
  failure: { kind: string; message: string } | null;
}

type PlatformFailure = Extract<PlatformReply<unknown>, { ok: false }>;

const HALTING: ReadonlySet<PlatformFailureKind> = new Set(['bad_sign', 'ip_not_allowed', 'no_permission', 'credentials_unavailable']);
const DEFAULT_MAX_POLLS = 30;
/** After a database error or a bug, the loop waits this long before trying again. */
const INTERNAL_ERROR_PAUSE_MS = 5_000;

type Step =
  | { next: 'done'; outcome: BatchOutcome }
  | { next: 'retry' };

/**
 * Sends queued platform rows through a profile, one request at a time per platform account,
 * every request (uploads and result polls) paced. It never calls on a timer in joint-test mode,
 * never polls an empty queue (ingest calls notify()), and stops calling on faults that a retry
 * cannot fix until resume().
 */
export class Forwarder {
  private readonly queue: UploadQueue;
  private readonly profile: PlatformProfile;
  private readonly pacer: Pacer;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly mode: ForwarderMode;
  private readonly pollDelayMs: number;
  private readonly maxRows: number;
  private readonly maxPolls: number;
  private readonly onFault?: (fault: ForwarderFault) => void;

  private readonly c: ForwarderCounters = {
    requests: 0,
    uploads: 0,
    polls: 0,
    rowsDelivered: 0,
    rowsDuplicate: 0,
    rowsRejected: 0,
    badReplies: 0,
    lastUploadMs: null,
    lastError: null,
    faults: 0,
  };
  private started = false;
  private stopping = false;
  private stopAbort = new AbortController();
  private loop: Promise<void> | null = null;
  private command: Promise<unknown> | null = null;
  private wake: (() => void) | null = null;

  constructor(options: ForwarderOptions) {
    this.queue = options.queue;
    this.profile = options.profile;
    this.pacer = options.pacer;
    this.clock = options.clock;
    this.log = options.log;
    this.mode = options.mode;
    this.pollDelayMs = options.pollDelayMs;
    this.maxRows = options.maxRowsPerRequest ?? MAX_ROWS_PER_REQUEST;
    this.maxPolls = options.maxPolls ?? DEFAULT_MAX_POLLS;
    this.onFault = options.onFault;
    if (options.mode !== 'auto' && options.mode !== 'joint-test') {
      throw new TypeError(`forwarder: mode must be "auto" or "joint-test", got ${String(options.mode)}`);
    }
    if (!(Number.isInteger(this.maxRows) && this.maxRows >= 1 && this.maxRows <= MAX_ROWS_PER_REQUEST)) {
      throw new TypeError(`forwarder: maxRowsPerRequest must be 1..${MAX_ROWS_PER_REQUEST}, got ${this.maxRows}`);
    }
    if (!(Number.isFinite(this.pollDelayMs) && this.pollDelayMs >= 0)) {
      throw new TypeError(`forwarder: pollDelayMs must be ≥ 0, got ${this.pollDelayMs}`);
    }
    if (!(Number.isInteger(this.maxPolls) && this.maxPolls >= 1)) {
      throw new TypeError(`forwarder: maxPolls must be a positive integer, got ${this.maxPolls}`);
    }
  }

  /**
   * Recovers rows left in flight by a crash, then (auto mode) starts the send loop. In
   * joint-test mode nothing is sent until uploadNow().
   */
  start(): void {
    if (this.started) return;
    if (this.stopping) throw new SitegateError('forwarder_stopped', 'the forwarder was stopped; create a new one');
    this.started = true;
    const recovered = this.queue.recoverInFlight();
    if (recovered > 0) this.log.warn({ rows: recovered }, 'rows in flight at the last stop will be re-sent');
    this.log.info({ mode: this.mode, profile: this.profile.name }, 'forwarder started');
    if (this.mode === 'auto') this.loop = this.runLoop();
  }

  /** New rows were queued: wake the loop if it is idle. */
  notify(): void {
    this.wakeLoop();
  }

  /** Lifts a halt (after the operator fixed the signature, IP allow-list or permission). */
  resume(): void {
    this.pacer.resume();
    this.log.info('platform requests resumed');
    this.wakeLoop();
  }

  /** Operator command: send at most `rows` rows now (still paced). The only sender in joint-test mode. */
  async uploadNow(rows: number): Promise<UploadNowResult> {
    if (this.mode !== 'joint-test') {
      return { ok: false, code: 'wrong_mode', message: 'uploadNow is a joint-test command; in auto mode rows are sent as they come' };
    }
    if (this.stopping) return { ok: false, code: 'stopped', message: 'the forwarder is stopping' };
    if (this.command) return { ok: false, code: 'busy', message: 'an upload command is still running' };
    if (!(Number.isInteger(rows) && rows >= 1)) {
      return { ok: false, code: 'bad_count', message: `rows must be a positive integer, got ${rows}` };
    }
    const run = this.runCommand(rows);
    this.command = run;
    try {
      return await run;
    } finally {
      this.command = null;
    }
  }

  /** Lets a request in flight (and its result polls) finish, then resolves; nothing is sent afterwards. */
  async stop(): Promise<void> {
    if (this.stopping) {
      await Promise.allSettled([this.loop, this.command]);
      return;
    }
    this.stopping = true;
    this.stopAbort.abort();
    this.wakeLoop();
    await Promise.allSettled([this.loop, this.command]);
    this.log.info('forwarder stopped');
  }

  get counters(): ForwarderCounters {
    return { ...this.c, lastError: this.c.lastError ? { ...this.c.lastError } : null };
  }

  private async runLoop(): Promise<void> {
    while (!this.stopping) {
      if (this.pacer.halted !== null) {
        await this.idle();
        continue;
      }
      const batch = this.queue.nextBatch(this.maxRows);
      if (!batch) {
        await this.idle();
        continue;
      }
      try {
        await this.sendBatch(batch, true);
      } catch (err) {
        // A bug or a database error: keep the rows, note it, and do not spin.
        const message = errorMessage(err);
        this.noteError('internal', message);
        this.log.error({ err: message }, 'forwarder loop error');
        this.pacer.noteFailure();
        try {
          this.queue.returnToPending(batch.rows.map((r) => r.rowId), `internal error: ${message}`);
        } catch {
          // rows stay in flight; recoverInFlight() re-sends them at the next start
        }
        await this.idle(INTERNAL_ERROR_PAUSE_MS);
      }
    }
  }

  private async runCommand(limit: number): Promise<UploadNowResult> {
    const totals = { requests: this.c.requests, rowsSent: 0, delivered: 0, rejected: 0, returned: 0 };
    const result = () => ({ ...totals, requests: this.c.requests - totals.requests });
    while (totals.rowsSent < limit && !this.stopping) {
      const batch = this.queue.nextBatch(Math.min(this.maxRows, limit - totals.rowsSent));
      if (!batch) break;
      totals.rowsSent += batch.rows.length;
      const outcome = await this.sendBatch(batch, false);
      totals.delivered += outcome.delivered;
      totals.rejected += outcome.rejected;
      totals.returned += outcome.returned;
      if (outcome.failure) {
        return { ok: false, code: 'platform_error', kind: outcome.failure.kind, message: outcome.failure.message, ...result() };
      }
    }
    return { ok: true, ...result() };
  }

  /** Waits for notify(), resume() or stop() (or `ms`, after an internal error): no timer polls an empty queue. */
  private idle(ms?: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = ms === undefined ? null : this.clock.setTimeout(() => this.wakeLoop(), ms);
      this.wake = () => {
        if (timer) this.clock.clearTimeout(timer);
        resolve();
      };
    });
  }

  private wakeLoop(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /**
   * One batch to its end: uploaded and its result applied, or given up (rows back to pending, or
   * rejected for bad parameters). With `retry`, transient failures are retried after back-off.
   * Every database write comes before a paced wait (the pacer's spacing starts at the reply), so
   * when the slot opens the request goes at once: see the Pacer's comment for why that keeps
   * the platform's window full and never over.
   */
  private async sendBatch(batch: UploadBatch, retry: boolean): Promise<BatchOutcome> {
    const ids = batch.rows.map((r) => r.rowId);
    const request = toAttendanceBatch(batch);
    // in flight (a crash re-sends it) and its attempt counted, in one commit, before the wait
    this.queue.atomically(() => {
      this.queue.markInFlight(ids, null);
      this.queue.recordAttempt(ids);
    });
    for (;;) {
      // An operator's command does not sit waiting for a halt to be lifted; the loop does.
      const sent = await this.paced(() => {
        this.c.requests++;
        this.c.uploads++;
        return this.profile.upload(request);
      }, { signal: this.stopAbort.signal, failIfHalted: !retry });
      if (!sent.ok) {
        const kind = sent.error instanceof SitegateError && sent.error.code === 'pacer_halted' ? 'halted' : 'stopped';
        const message = errorMessage(sent.error);
        return this.giveBack(ids, `not sent: ${message}`, { kind, message }, { unsent: true });
      }
      const { reply, repliedMono } = sent;
      let step: Step;
      if (!reply.ok) step = this.onUploadFailure(reply, ids, retry);
      else {
        const serial = (reply.value as { requestSerialCode?: unknown } | null)?.requestSerialCode;
        if (typeof serial !== 'string' || serial.length === 0) {
          this.c.badReplies++;
          step = this.onUploadFailure({ ok: false, kind: 'bad_reply', message: 'upload reply has no requestSerialCode' }, ids, retry);
        } else {
          this.pacer.noteSuccess();
          this.c.lastUploadMs = this.clock.now();
          this.queue.markInFlight(ids, serial);
          this.log.info({ serial, rows: ids.length, teamSysNo: batch.teamSysNo }, 'platform took upload');
          step = await this.pollResult(serial, batch, ids, retry, repliedMono);
        }
      }
      if (step.next === 'done') return step.outcome;
      this.queue.recordAttempt(ids); // the retry's attempt, counted before its wait
    }
  }

  private onUploadFailure(
    reply: PlatformFailure,
    ids: string[],
    retry: boolean,
  ): Step {
    this.noteError(reply.kind, reply.message, reply.code);
    this.log.warn({ kind: reply.kind, code: reply.code, httpStatus: reply.httpStatus, rows: ids.length }, 'upload failed');
    if (HALTING.has(reply.kind)) return { next: 'done', outcome: this.haltOn(reply, ids) };
    if (reply.kind === 'bad_params') {
      for (const id of ids) this.queue.markRejected(id, `bad parameters: ${reply.message}`);
      this.c.rowsRejected += ids.length;
      this.pacer.noteSuccess(); // the platform answered; it is not overloaded
      return { next: 'done', outcome: { delivered: 0, rejected: ids.length, returned: 0, failure: null } };
    }
    if (reply.kind === 'rate_limited') this.pacer.noteRateLimited(reply.retryAfterMs);
    else this.pacer.noteFailure(reply.retryAfterMs);
    if (!retry || this.stopping) {
      return { next: 'done', outcome: this.giveBack(ids, `${reply.kind}: ${reply.message}`, reply) };
    }
    this.queue.recordError(ids, `${reply.kind}: ${reply.message}`);
    return { next: 'retry' };
  }

  /** Polls the result of an upload the platform took (its reply came at `repliedMono`); 'retry' means re-send the batch. */
  private async pollResult(serial: string, batch: UploadBatch, ids: string[], retry: boolean, repliedMono: number): Promise<Step> {
    let lastReplyMono = repliedMono;
    for (let poll = 0; poll < this.maxPolls; poll++) {
      // counted from the last reply, so the database work since then does not push the poll back
      const wait = lastReplyMono + this.pollDelayMs - this.clock.monotonic();
      if (wait > 0) await sleep(this.clock, wait);
      // No stop signal: a request the platform took gets its result read, even during stop().
      const sent = await this.paced(() => {
        this.c.requests++;
        this.c.polls++;
        return this.profile.query(serial);
      }, { failIfHalted: true });
      if (!sent.ok) {
        const message = errorMessage(sent.error);
        return { next: 'done', outcome: this.giveBack(ids, `result not read: ${message}`, { kind: 'halted', message }) };
      }
      const { reply } = sent;
      lastReplyMono = sent.repliedMono;
      if (reply.ok) {
        const value = reply.value as QueryResult | null;
        if (value?.state === 'pending') {
          this.pacer.noteSuccess();
          continue;
        }
        if (value?.state === 'done') {
          this.pacer.noteSuccess();
          return { next: 'done', outcome: this.applyResults(value, batch) };
        }
        this.c.badReplies++;
        this.noteError('bad_reply', 'result poll reply has no state');
        this.pacer.noteFailure();
        continue;
      }
      this.noteError(reply.kind, reply.message, reply.code);
      this.log.warn({ kind: reply.kind, code: reply.code, serial }, 'result poll failed');
      if (HALTING.has(reply.kind)) return { next: 'done', outcome: this.haltOn(reply, ids) };
      if (reply.kind === 'bad_params') {
        // The platform does not know the serial code (expired?): re-send; duplicates count as delivered.
        this.pacer.noteFailure();
        if (!retry || this.stopping) {
          return { next: 'done', outcome: this.giveBack(ids, `result lost: ${reply.message}`, reply) };
        }
        this.queue.recordError(ids, `result lost: ${reply.message}`);
        return { next: 'retry' };
      }
      if (reply.kind === 'rate_limited') this.pacer.noteRateLimited(reply.retryAfterMs);
      else this.pacer.noteFailure(reply.retryAfterMs);
    }
    const message = `no result for request ${serial} after ${this.maxPolls} polls`;
    this.noteError('result_timeout', message);
    return { next: 'done', outcome: this.giveBack(ids, message, { kind: 'result_timeout', message }) };
  }

  private applyResults(result: Extract<QueryResult, { state: 'done' }>, batch: UploadBatch): BatchOutcome {
    return this.queue.atomically(() => this.applyResultsInTransaction(result, batch));
  }

  private applyResultsInTransaction(result: Extract<QueryResult, { state: 'done' }>, batch: UploadBatch): BatchOutcome {
    const seen = new Map<number, RowResult>();
    let malformed = 0;
    for (const r of Array.isArray(result.rows) ? result.rows : []) {
      const valid =
        r !== null &&
        typeof r === 'object' &&
        Number.isInteger(r.index) &&
        r.index >= 0 &&
        r.index < batch.rows.length &&
        (r.status === 'accepted' || r.status === 'duplicate' || r.status === 'rejected');
      if (!valid || seen.has(r.index)) malformed++;
      else seen.set(r.index, r);
    }
    const outcome: BatchOutcome = { delivered: 0, rejected: 0, returned: 0, failure: null };
    const missing: string[] = [];
    batch.rows.forEach((row, i) => {
      const r = seen.get(i);
      if (!r) missing.push(row.rowId);
      else if (r.status === 'rejected') {
        const reason = typeof r.reason === 'string' && r.reason.length > 0 ? r.reason : 'rejected by the platform';
        this.queue.markRejected(row.rowId, reason);
        outcome.rejected++;
      } else {
        this.queue.markDelivered(row.rowId, r.status);
        outcome.delivered++;
        if (r.status === 'duplicate') this.c.rowsDuplicate++;
      }
    });
    this.c.rowsDelivered += outcome.delivered;
    this.c.rowsRejected += outcome.rejected;
    if (malformed > 0 || missing.length > 0) {
      this.c.badReplies++;
      const message = `result had ${malformed} unusable and ${missing.length} missing row results`;
      this.noteError('bad_reply', message);
      this.log.warn({ malformed, missing: missing.length }, 'incomplete result from the platform');
      if (missing.length > 0) {
        this.queue.returnToPending(missing, message);
        outcome.returned = missing.length;
      }
    }
    this.log.info({ delivered: outcome.delivered, rejected: outcome.rejected, returned: outcome.returned }, 'result applied');
    return outcome;
  }

  private haltOn(reply: PlatformFailure, ids: string[]): BatchOutcome {
    const haltedReason = `${reply.kind}${reply.code !== undefined ? ` (${reply.code})` : ''}: ${reply.message}`;
    this.pacer.halt(haltedReason);
    this.c.faults++;
    const fault: ForwarderFault = { kind: reply.kind, message: reply.message, atMs: this.clock.now(), haltedReason };
    if (reply.code !== undefined) fault.code = reply.code;
    if (reply.httpStatus !== undefined) fault.httpStatus = reply.httpStatus;
    this.log.error({ kind: reply.kind, code: reply.code }, 'platform requests halted until an operator resumes them');
    try {
      this.onFault?.(fault);
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'fault handler threw');
    }
    return this.giveBack(ids, haltedReason, reply);
  }

  private giveBack(ids: string[], error: string, failure: { kind: string; message: string }, options: { unsent?: boolean } = {}): BatchOutcome {
    this.queue.returnToPending(ids, error, options);
    return { delivered: 0, rejected: 0, returned: ids.length, failure: { kind: failure.kind, message: failure.message } };
  }

  /**
   * One request through the pacer: `ok: false` when the pacer gave up the wait (halted, stopped)
   * and nothing was sent; otherwise the reply and the monotonic time it came back.
   */
  private async paced<T>(
    send: () => Promise<PlatformReply<T>>,
    options: AcquireOptions,
  ): Promise<{ ok: true; reply: PlatformReply<T>; repliedMono: number } | { ok: false; error: unknown }> {
    let reply: PlatformReply<T>;
    try {
      reply = await this.pacer.request(() => this.call(send), options);
    } catch (err) {
      return { ok: false, error: err };
    }
    return { ok: true, reply, repliedMono: this.clock.monotonic() };
  }

  /** A profile that throws, or replies with something that is not a PlatformReply, is a bad reply. */
  private async call<T>(fn: () => Promise<PlatformReply<T>>): Promise<PlatformReply<T>> {
    let reply: PlatformReply<T>;
    try {
      reply = await fn();
    } catch (err) {
      this.c.badReplies++;
      return { ok: false, kind: 'bad_reply', message: `profile threw: ${errorMessage(err)}` };
    }
    if (reply === null || typeof reply !== 'object' || typeof reply.ok !== 'boolean') {
      this.c.badReplies++;
      return { ok: false, kind: 'bad_reply', message: 'profile returned no reply' };
    }
    if (!reply.ok && reply.kind === 'bad_reply') this.c.badReplies++;
    return reply;
  }

  private noteError(kind: string, message: string, code?: number): void {
    this.c.lastError = { kind, message, atMs: this.clock.now() };
    if (code !== undefined) this.c.lastError.code = code;
  }
}
