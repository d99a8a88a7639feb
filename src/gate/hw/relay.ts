import type { Clock, TimerHandle } from '../../core/clock.js';
import { SitegateError, errorMessage } from '../../core/errors.js';
import type { Level, OutputLine } from './gpio.js';

/**
 * A relay on one output line, pulsed for a time on the Clock. Polarity lives in one of two
 * places, never both: `activeLow` on the LineSpec (the line is inverted) or `activeLow` here
 * (the line is plain and the relay board energises on a low pin, as most opto-isolated boards do).
 */
export interface RelayOptions {
  /** For messages, e.g. `lane1/in`. */
  name: string;
  /** The relay is energised when the line is 0. Default false. */
  activeLow?: boolean;
  /** Longest pulse accepted, ms: a bad command must not hold a turnstile open. Default 60,000. */
  maxPulseMs?: number;
}

/** The level that leaves a relay released: the `initial` to request its OutputLine with. */
export function relaySafeLevel(activeLow = false): Level {
  return activeLow ? 1 : 0;
}

const RELEASE_RETRY_MS = 100;

export type RelayResult = { ok: true; untilMs: number } | { ok: false; error: SitegateError };

export interface RelayStats {
  /** pulse() calls accepted. */
  pulses: number;
  /** Times the relay went from released to energised (overlapping pulses extend, not re-activate). */
  activations: number;
  writeErrors: number;
}

export class Relay {
  private readonly activeLow: boolean;
  private readonly maxPulseMs: number;
  private timer: TimerHandle | null = null;
  private untilMs = 0;
  private started = false;
  private readonly counts: RelayStats = { pulses: 0, activations: 0, writeErrors: 0 };

  constructor(
    private readonly line: OutputLine,
    private readonly clock: Clock,
    readonly options: RelayOptions,
  ) {
    this.activeLow = options.activeLow ?? false;
    this.maxPulseMs = options.maxPulseMs ?? 60_000;
  }

  get name(): string {
    return this.options.name;
  }

  /** Drives the safe (released) state. */
  start(): RelayResult {
    this.started = true;
    return this.release();
  }

  /** Cancels any pulse and leaves the relay released. */
  stop(): RelayResult {
    const r = this.release();
    this.started = false;
    return r;
  }

  get active(): boolean {
    return this.timer !== null;
  }

  /** Energises the relay for `ms`; a pulse while active extends it to whichever end is later. */
  pulse(ms: number): RelayResult {
    if (!this.started) {
      return fail('relay_not_started', `relay ${this.name} was pulsed before start()`);
    }
    if (!Number.isFinite(ms) || ms <= 0 || ms > this.maxPulseMs) {
      return fail('relay_bad_duration', `relay ${this.name}: pulse of ${ms} ms is outside 1-${this.maxPulseMs} ms`);
    }
    const until = this.clock.monotonic() + ms;
    if (this.timer && until <= this.untilMs) {
      this.counts.pulses++;
      return { ok: true, untilMs: this.untilMs };
    }
    const wasActive = this.timer !== null;
    if (!wasActive) {
      const written = this.drive(true);
      if (!written.ok) return written;
      this.counts.activations++;
    } else {
      this.clock.clearTimeout(this.timer as TimerHandle);
    }
    this.counts.pulses++;
    this.untilMs = until;
    this.scheduleRelease(ms);
    return { ok: true, untilMs: until };
  }

  // A release that fails to write is retried: a relay left energised holds the turnstile open.
  private scheduleRelease(ms: number): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      if (!this.drive(false).ok) this.scheduleRelease(RELEASE_RETRY_MS);
    }, ms);
  }

  stats(): RelayStats {
    return { ...this.counts };
  }

  private release(): RelayResult {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
    const r = this.drive(false);
    return r.ok ? { ok: true, untilMs: this.clock.monotonic() } : r;
  }

  private drive(energised: boolean): RelayResult {
    const level = (energised !== this.activeLow ? 1 : 0) as Level;
    try {
      this.line.write(level);
      return { ok: true, untilMs: this.untilMs };
    } catch (err) {
      this.counts.writeErrors++;
      return fail('relay_write_failed', `relay ${this.name}: cannot drive its GPIO ${energised ? 'on' : 'off'}: ${errorMessage(err)}`);
    }
  }
}

function fail(code: string, message: string): RelayResult {
  return { ok: false, error: new SitegateError(code, message) };
}
