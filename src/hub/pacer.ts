import type { Clock, TimerHandle } from '../core/clock.js';
import { SitegateError } from '../core/errors.js';
import { shanghaiDate } from '../core/shanghai-time.js';
import type { RequestLedger } from './budget.js';
import type { RecentRequest, ReplyLog } from './reply-log.js';

export interface PacerBackoff {
  /** First back-off after a failure, ms. */
  baseMs: number;
  /** Longest computed back-off, ms (a longer Retry-After is still honoured). */
  maxMs: number;
  /** Random 0..1, injectable so tests are deterministic. */
  jitter: () => number;
}

/** The platform's limit: at most `requests` arrivals in any `windowMs`, counted when they arrive. */
export interface PacerWindow {
  requests: number;
  windowMs: number;
}

export interface PacerOptions {
  clock: Clock;
  /** Least time between two requests' sends, ms. Without `window`, also the platform's limit: one request per this, from the reply. */
  minSpacingMs?: number;
  /** Token bucket, counted at sends: `capacity` requests at once, refilled at `refillPerMs` tokens per ms. */
  bucket?: { capacity: number; refillPerMs: number };
  /**
   * The platform's limit. A request waits until the reply to the `requests`-th request before it
   * is `windowMs` old, which keeps every arrival inside the limit whatever the network delays
   * (see the class comment). Default: one request per `minSpacingMs`.
   */
  window?: PacerWindow;
  /** Requests allowed per Asia/Shanghai calendar day; unlimited when absent. */
  dailyBudget?: number;
  /** Keeps the per-day count across restarts; in memory only when absent. */
  ledger?: RequestLedger;
  /**
   * Keeps the last `window.requests` requests (reply times) across restarts, so that a pacer
   * started within one window of the last process's replies still keeps that window; in memory
   * only when absent.
   */
  replyLog?: ReplyLog;
  backoff?: Partial<PacerBackoff>;
}

export interface AcquireOptions {
  /** Aborting gives up the wait: acquire rejects with code `pacer_aborted`. */
  signal?: AbortSignal;
  /** Reject with code `pacer_halted` instead of waiting for resume() when the pacer is halted. */
  failIfHalted?: boolean;
}

export interface PacerStats {
  requests: number;
  /** acquire() calls that had to wait. */
  waits: number;
  /** Wall time of the last counted request, or null. */
  lastRequestMs: number | null;
  haltedReason: string | null;
  /** Wall time from which the next request may go, or null while halted. */
  nextAllowedMs: number | null;
  /** Failures in a row since the last success (drives the back-off). */
  failureStreak: number;
  rateLimited: number;
  failures: number;
  /** Requests counted on the current Asia/Shanghai day. */
  today: { day: string; requests: number; budget: number | null };
}

const DEFAULTS = {
  minSpacingMs: 1200,
  bucket: { capacity: 1, refillPerMs: 1 / 1200 },
  backoff: { baseMs: 2_000, maxMs: 300_000, jitter: Math.random },
} as const;

const SHANGHAI_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 24 * 3600_000;
/** A long wait is re-checked at least this often, so a wall-clock correction is noticed. */
const MAX_SINGLE_WAIT_MS = 10 * 60_000;
/** Floating-point slack on the token count. */
const TOKEN_EPSILON = 1e-9;

/**
 * Paces calls to the municipal platform: every request (writes and result polls alike) goes
 * through request() (or acquire() and requestSettled() around it), which waits until the
 * platform's window, the minimum spacing, the token bucket, the daily budget and any back-off
 * all allow one more. Timing is on monotonic ms of the injected clock; the daily budget follows
 * the Asia/Shanghai wall date. No interval timer: it only waits while somebody is acquiring.
 *
 * Why request() is never over the platform's limit (N arrivals in any W ms), whatever the network
 * does. request() keeps one request in flight, so requests arrive in the order they are sent,
 * and request k+N is sent only once the reply to request k is W old (across a restart too: the
 * last N reply times are kept in the replyLog, in wall time, and a new pacer starts from them):
 *   arrival(k+N) ≥ send(k+N) ≥ reply(k) + W > arrival(k) + W,
 * the last step because the platform received request k before it replied. So any N+1
 * consecutive arrivals span more than W, and no window of W holds more than N. Network delay on
 * a request only makes its reply later, which only makes the wait longer. With N = 1 this is
 * "space requests from the reply"; with the platform's real N the round trip of request k is paid
 * once per N requests instead of once per request, so the window is used almost fully; the
 * spacing and the bucket (counted at sends) then only smooth the requests over the window. The
 * caller still does its own work (database writes) while the pacer waits, never between a reply
 * and the next send. A request that got no reply (time-out, dropped connection) settles when we
 * give up; it is followed by a back-off (noteFailure) far longer than any delay the network
 * could still add to it.
 */
export class Pacer {
  private readonly clock: Clock;
  private readonly minSpacingMs: number;
  private readonly capacity: number;
  private readonly refillPerMs: number;
  private readonly window: PacerWindow;
  private readonly dailyBudget: number | null;
  private readonly backoff: PacerBackoff;
  private readonly ledger: RequestLedger | null;
  private readonly replyLog: ReplyLog | null;

  private tokens: number;
  private tokensAtMono: number;
  private lastRequestMono: number | null = null;
  /**
   * The last `window.requests` requests, oldest first: when each settled (its reply came), or
   * when it was sent while no reply is known yet; `mono` counts, `wall` is what the replyLog keeps.
   */
  private readonly recent: { mono: number; wall: number; replied: boolean }[] = [];
  private lastRequestWall: number | null = null;
  private backoffUntilMono = 0;
  private failureStreak = 0;
  private haltedReason: string | null = null;
  /** A request() is between its send and its reply: nobody else may go. */
  private inFlight = false;
  private day = '';
  private dayRequests = 0;
  private counters = { requests: 0, waits: 0, rateLimited: 0, failures: 0 };
  /** Waiters woken early by halt()/resume()/back-off changes, so they re-check at once. */
  private readonly wakers = new Set<() => void>();

  constructor(options: PacerOptions) {
    this.clock = options.clock;
    this.minSpacingMs = options.minSpacingMs ?? DEFAULTS.minSpacingMs;
    this.capacity = options.bucket?.capacity ?? DEFAULTS.bucket.capacity;
    this.refillPerMs = options.bucket?.refillPerMs ?? DEFAULTS.bucket.refillPerMs;
    this.window = options.window ? { ...options.window } : { requests: 1, windowMs: this.minSpacingMs };
    this.dailyBudget = options.dailyBudget ?? null;
    this.ledger = options.ledger ?? null;
    this.replyLog = options.replyLog ?? null;
    this.backoff = {
      baseMs: options.backoff?.baseMs ?? DEFAULTS.backoff.baseMs,
      maxMs: options.backoff?.maxMs ?? DEFAULTS.backoff.maxMs,
      jitter: options.backoff?.jitter ?? DEFAULTS.backoff.jitter,
    };
    if (!(this.minSpacingMs >= 0)) throw new TypeError(`pacer: minSpacingMs must be ≥ 0, got ${this.minSpacingMs}`);
    if (!(Number.isFinite(this.capacity) && this.capacity >= 1)) {
      throw new TypeError(`pacer: bucket.capacity must be ≥ 1, got ${this.capacity}`);
    }
    if (!(Number.isFinite(this.refillPerMs) && this.refillPerMs > 0)) {
      throw new TypeError(`pacer: bucket.refillPerMs must be > 0, got ${this.refillPerMs}`);
    }
    if (!(Number.isInteger(this.window.requests) && this.window.requests >= 1)) {
      throw new TypeError(`pacer: window.requests must be a positive integer, got ${this.window.requests}`);
    }
    if (!(Number.isFinite(this.window.windowMs) && this.window.windowMs >= 0)) {
      throw new TypeError(`pacer: window.windowMs must be ≥ 0, got ${this.window.windowMs}`);
    }
    if (this.dailyBudget !== null && !(Number.isInteger(this.dailyBudget) && this.dailyBudget >= 0)) {
      throw new TypeError(`pacer: dailyBudget must be a non-negative integer, got ${this.dailyBudget}`);
    }
    if (!(this.backoff.baseMs > 0 && this.backoff.maxMs >= this.backoff.baseMs)) {
      throw new TypeError('pacer: backoff needs 0 < baseMs ≤ maxMs');
    }
    this.tokens = this.capacity;
    this.tokensAtMono = this.clock.monotonic();
    if (this.replyLog) this.seedRecent(this.replyLog.load());
  }

  /**
   * Resolves when one request may be made now, and counts it. Checking and counting happen in
   * one synchronous step, so concurrent callers never both get the same slot; waiters wake in
   * the order they started waiting.
   * Rejects with a SitegateError `pacer_aborted` when the signal aborts, or `pacer_halted` when
   * halted and `failIfHalted` is set.
   */
  acquire(options: AcquireOptions = {}): Promise<void> {
    return this.waitForTurn(options);
  }

  /**
   * Waits for a turn as acquire() does, then makes the request with `send` and settles it when
   * `send` ends (resolved or thrown): one request in flight, spaced from the reply (see above).
   * Rejects like acquire() without calling `send` when the wait is given up.
   */
  async request<T>(send: () => Promise<T>, options: AcquireOptions = {}): Promise<T> {
    await this.waitForTurn(options, true);
    try {
      return await send();
    } finally {
      this.requestSettled();
    }
  }

  /** The platform said "too many requests": back off exponentially, at least `retryAfterMs`. */
  noteRateLimited(retryAfterMs?: number): void {
    this.counters.rateLimited++;
    this.backOff(retryAfterMs);
  }

  /** A transient failure (time-out, network, 5xx, bad reply): back off the same way. */
  noteFailure(retryAfterMs?: number): void {
    this.counters.failures++;
    this.backOff(retryAfterMs);
  }

  /**
   * The last request has come back (request() calls it; a caller of acquire() must). The
   * platform counted that request somewhere between our send and this reply, so the platform's
   * window runs from here: network delay on one request can then never squeeze a later one into
   * the window (see the class comment).
   */
  requestSettled(): void {
    const mono = this.clock.monotonic();
    const last = this.recent[this.recent.length - 1];
    if (last && (mono > last.mono || !last.replied)) {
      last.mono = Math.max(last.mono, mono);
      last.wall = this.clock.now();
      last.replied = true;
      this.saveRecent();
    }
    if (this.inFlight) {
      this.inFlight = false;
      this.wakeAll();
    }
  }

  /** The platform answered normally: the back-off is over. */
  noteSuccess(): void {
    this.failureStreak = 0;
    this.backoffUntilMono = 0;
    this.wakeAll();
  }

  /** Stops every request until resume() (bad signature, IP not allowed, no permission). */
  halt(reason: string): void {
    this.haltedReason = reason;
    this.wakeAll();
  }

  resume(): void {
    this.haltedReason = null;
    this.failureStreak = 0;
    this.backoffUntilMono = 0;
    this.wakeAll();
  }

  get halted(): string | null {
    return this.haltedReason;
  }

  get stats(): PacerStats {
    this.rollDay();
    const wait = this.haltedReason === null ? this.waitMs() : null;
    return {
      requests: this.counters.requests,
      waits: this.counters.waits,
      lastRequestMs: this.lastRequestWall,
      haltedReason: this.haltedReason,
      nextAllowedMs: wait === null ? null : this.clock.now() + wait,
      failureStreak: this.failureStreak,
      rateLimited: this.counters.rateLimited,
      failures: this.counters.failures,
      today: { day: this.day, requests: this.dayRequests, budget: this.dailyBudget },
    };
  }

  /** `inFlight`: the turn is a request() whose reply releases the next one (set in the same step as the count). */
  private async waitForTurn(options: AcquireOptions, inFlight = false): Promise<void> {
    let waited = false;
    for (;;) {
      if (options.signal?.aborted) throw new SitegateError('pacer_aborted', 'waiting for the platform pacer was cancelled');
      if (this.haltedReason !== null) {
        if (options.failIfHalted) {
          throw new SitegateError('pacer_halted', `platform requests are halted: ${this.haltedReason}`);
        }
        if (!waited) this.counters.waits++;
        waited = true;
        await this.sleep(null, options.signal);
        continue;
      }
      if (this.inFlight) {
        // the reply to the request in flight starts the spacing: wait for it (requestSettled wakes us)
        if (!waited) this.counters.waits++;
        waited = true;
        await this.sleep(null, options.signal);
        continue;
      }
      const wait = this.waitMs();
      if (wait <= 0) {
        this.take();
        this.inFlight = inFlight;
        return;
      }
      if (!waited) this.counters.waits++;
      waited = true;
      await this.sleep(Math.min(wait, MAX_SINGLE_WAIT_MS), options.signal);
    }
  }

  /** ms until a request is allowed (0 = now), ignoring a halt. */
  private waitMs(): number {
    const mono = this.clock.monotonic();
    let wait = 0;
    if (this.recent.length >= this.window.requests) wait = Math.max(wait, this.recent[0].mono + this.window.windowMs - mono);
    if (this.lastRequestMono !== null) wait = Math.max(wait, this.lastRequestMono + this.minSpacingMs - mono);
    const tokens = this.tokensNow(mono);
    if (tokens < 1 - TOKEN_EPSILON) wait = Math.max(wait, Math.ceil((1 - tokens) / this.refillPerMs));
    wait = Math.max(wait, this.backoffUntilMono - mono);
    this.rollDay();
    if (this.dailyBudget !== null && this.dayRequests >= this.dailyBudget) {
      wait = Math.max(wait, msUntilNextShanghaiDay(this.clock.now()));
    }
    return Math.max(0, Math.ceil(wait));
  }

  private take(): void {
    const mono = this.clock.monotonic();
    this.tokens = Math.max(0, this.tokensNow(mono) - 1);
    this.tokensAtMono = mono;
    this.lastRequestMono = mono;
    this.recent.push({ mono, wall: this.clock.now(), replied: false });
    if (this.recent.length > this.window.requests) this.recent.shift();
    this.saveRecent(); // before the request goes: a crash during it still counts it
    this.lastRequestWall = this.clock.now();
    this.counters.requests++;
    this.rollDay();
    this.dayRequests++;
    this.ledger?.save(this.day, this.dayRequests);
  }

  /**
   * Takes the last process's requests, converted from wall time to this process's monotonic ms.
   * One with no reply may have reached the platform at any time before that process ended, so it
   * counts as replied now; so does a time in the future (the wall clock was set back), and an
   * unreadable log counts as a full window that just replied. Replies a window old hold nothing back.
   */
  private seedRecent(saved: readonly RecentRequest[] | null): void {
    const wallNow = this.clock.now();
    const monoNow = this.clock.monotonic();
    const list = saved ?? Array.from({ length: this.window.requests }, () => ({ atMs: wallNow, replied: true }));
    for (const r of list.slice(-this.window.requests)) {
      const wall = r.replied ? Math.min(r.atMs, wallNow) : wallNow;
      if (wall + this.window.windowMs <= wallNow) continue;
      this.recent.push({ mono: monoNow - (wallNow - wall), wall, replied: true });
    }
    if (this.recent.length) this.lastRequestMono = this.recent[this.recent.length - 1].mono;
  }

  private saveRecent(): void {
    this.replyLog?.save(this.recent.map((r) => ({ atMs: r.wall, replied: r.replied })));
  }

  private tokensNow(mono: number): number {
    return Math.min(this.capacity, this.tokens + (mono - this.tokensAtMono) * this.refillPerMs);
  }

  private rollDay(): void {
    const today = shanghaiDate(this.clock.now());
    if (today !== this.day) {
      this.day = today;
      this.dayRequests = this.ledger?.load(today) ?? 0;
    }
  }

  private backOff(retryAfterMs?: number): void {
    this.failureStreak++;
    const exp = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (this.failureStreak - 1));
    const jitter = clamp01(this.backoff.jitter());
    // "Equal jitter": at least half the exponential step, so a retry never comes right back.
    const computed = exp / 2 + (exp / 2) * jitter;
    const retryAfter = retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? retryAfterMs : 0;
    const delay = Math.ceil(Math.max(computed, retryAfter));
    this.backoffUntilMono = Math.max(this.backoffUntilMono, this.clock.monotonic() + delay);
    this.wakeAll();
  }

  /** Waits `ms` (null: until woken), or until halt()/resume()/a back-off change wakes it. */
  private sleep(ms: number | null, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: TimerHandle | null = null;
      const done = () => {
        if (timer) this.clock.clearTimeout(timer);
        this.wakers.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      if (ms !== null) timer = this.clock.setTimeout(done, ms);
      this.wakers.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 1;
}

/** ms from `wallMs` to the next 00:00 Asia/Shanghai. */
export function msUntilNextShanghaiDay(wallMs: number): number {
  const local = wallMs + SHANGHAI_OFFSET_MS;
  const nextMidnightLocal = (Math.floor(local / DAY_MS) + 1) * DAY_MS;
  return nextMidnightLocal - local;
}
