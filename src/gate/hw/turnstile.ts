import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Direction, PassageOutcome } from '../../core/entries.js';
import { SitegateError } from '../../core/errors.js';
import type { EdgeEvent, InputLine, Level } from './gpio.js';
import type { Relay } from './relay.js';

/**
 * One turnstile lane: a relay per direction and a passage sensor. open() releases the turnstile
 * and settles when the sensor shows a passage or the time-out passes.
 *
 * Passage: the sensor goes active (an activation) and back. A passage is confirmed once the
 * sensor has stayed at rest for `passageClearMs` after at least one activation, or at the time-out
 * if it activated at all (someone still in the beam); with no activation it is a time-out. Edges
 * outside an open window only reach the hooks.
 *
 * `sensorCount` counts distinct activations: one that starts less than `personGapMs` after the
 * sensor came to rest belongs to the one before (a flickering beam, one body). Two or more on one
 * release is tail-gating: a second person followed before the passage settled, so a site that
 * wants it seen sets `passageClearMs` above the gap between two people walking close.
 *
 * Free passage (fire alarm): both relays are held energised (re-pulsed before each hold ends, so
 * a lost process still lets them drop within `holdMs`) until it is switched off. Meanwhile open()
 * still tracks a passage (the grant is journalled with its outcome) but pulses nothing.
 */
export interface TurnstileLaneConfig {
  lane: string;
  /** The lane starts and stops these. */
  relays: { in: Relay; out: Relay };
  /** Requested with edge 'both' so the return to rest is seen. */
  passageSensor: InputLine;
  /** Logical value of the sensor while something passes. Default 1. */
  sensorActive?: Level;
  /** Default 500. */
  pulseMs?: number;
  /** Default 8000. */
  passageTimeoutMs?: number;
  /** Rest after an activation that ends the passage, ms. Default 300. */
  passageClearMs?: number;
  /**
   * A rest shorter than this joins two activations into one (ms). Default min(100, passageClearMs).
   * Raise it where a low beam sees a person's two legs apart.
   */
  personGapMs?: number;
  /** Free passage holds each relay for this long and renews it at half-time, ms. Default 10,000. */
  holdMs?: number;
}

export interface PassageResult {
  lane: string;
  direction: Direction;
  /** `interrupted` only when the lane is stopped while a passage is open. */
  outcome: PassageOutcome;
  /** Distinct sensor activations while the lane was open (people; see personGapMs). */
  sensorCount: number;
  /** Every activation, flicker and legs included. */
  activations: number;
  /** Clock monotonic ms. */
  openedAtMs: number;
  settledAtMs: number;
}

/** Where later features attach (LEDs, buzzer, fire alarm, events). */
export interface TurnstileHooks {
  opened?(e: { lane: string; direction: Direction; untilMs: number }): void;
  sensor?(e: { lane: string; value: Level; timestampNs: bigint; open: boolean }): void;
  settled?(r: PassageResult): void;
  freePassage?(e: { lane: string; on: boolean; atMs: number }): void;
}

export interface TurnstileStats {
  /** Sensor activations while in free passage with no passage open (people leaving in an alarm). */
  freeActivations: number;
  /** Relay writes that failed while holding free passage. */
  holdErrors: number;
}

interface OpenPassage {
  direction: Direction;
  openedAtMs: number;
  count: number;
  activations: number;
  /** monotonic ms the sensor last came to rest; null while active */
  restSince: number | null;
  timer: TimerHandle;
  clearTimer: TimerHandle | null;
  resolve: (r: PassageResult) => void;
}

export class TurnstileLane {
  private readonly pulseMs: number;
  private readonly timeoutMs: number;
  private readonly clearMs: number;
  private readonly personGapMs: number;
  private readonly sensorActive: Level;
  private readonly holdMs: number;
  private current: OpenPassage | null = null;
  private unsubscribe: (() => void) | null = null;
  private holdTimer: TimerHandle | null = null;
  private free = false;
  private readonly counts: TurnstileStats = { freeActivations: 0, holdErrors: 0 };

  constructor(
    private readonly config: TurnstileLaneConfig,
    private readonly clock: Clock,
    private readonly hooks: TurnstileHooks = {},
  ) {
    this.pulseMs = config.pulseMs ?? 500;
    this.timeoutMs = config.passageTimeoutMs ?? 8000;
    this.clearMs = config.passageClearMs ?? 300;
    this.sensorActive = config.sensorActive ?? 1;
    this.holdMs = config.holdMs ?? 10_000;
    this.personGapMs = config.personGapMs ?? Math.min(100, this.clearMs);
    if (!(this.pulseMs > 0) || !(this.timeoutMs > 0) || !(this.clearMs >= 0) || !(this.holdMs >= 100) || !(this.personGapMs >= 0)) {
      throw new TypeError(`lane ${config.lane}: pulseMs and passageTimeoutMs must be positive, passageClearMs and personGapMs not negative, holdMs at least 100`);
    }
  }

  get lane(): string {
    return this.config.lane;
  }

  /** True while a passage is open. */
  get busy(): boolean {
    return this.current !== null;
  }

  start(): void {
    if (this.unsubscribe) return;
    for (const relay of [this.config.relays.in, this.config.relays.out]) {
      const r = relay.start();
      if (!r.ok) throw r.error;
    }
    this.unsubscribe = this.config.passageSensor.onEdge((e) => this.onSensor(e));
  }

  /** True while both directions are held open (fire alarm). */
  get freePassage(): boolean {
    return this.free;
  }

  stats(): TurnstileStats {
    return { ...this.counts };
  }

  /**
   * Holds both directions open (on) or returns to normal operation (off: both relays released; a
   * passage still open keeps being tracked until it settles).
   */
  setFreePassage(on: boolean): void {
    if (on === this.free) return;
    this.free = on;
    if (on) {
      this.hold();
    } else {
      if (this.holdTimer) this.clock.clearTimeout(this.holdTimer);
      this.holdTimer = null;
      // start() on a started relay cancels its pulse and drives it released.
      for (const relay of [this.config.relays.in, this.config.relays.out]) if (!relay.start().ok) this.counts.holdErrors++;
    }
    this.hooks.freePassage?.({ lane: this.lane, on, atMs: this.clock.monotonic() });
  }

  private hold(): void {
    for (const relay of [this.config.relays.in, this.config.relays.out]) if (!relay.pulse(this.holdMs).ok) this.counts.holdErrors++;
    this.holdTimer = this.clock.setTimeout(() => this.hold(), this.holdMs / 2);
  }

  /** Releases both relays; an open passage settles as `interrupted`. */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.holdTimer) this.clock.clearTimeout(this.holdTimer);
    this.holdTimer = null;
    this.free = false;
    if (this.current) this.settle('interrupted');
    this.config.relays.in.stop();
    this.config.relays.out.stop();
  }

  /**
   * Releases the turnstile for one passage. Rejects with `lane_not_started`, `lane_busy` (a
   * passage is already open) or the relay's error when its GPIO cannot be driven.
   */
  open(direction: Direction): Promise<PassageResult> {
    if (!this.unsubscribe) {
      return Promise.reject(new SitegateError('lane_not_started', `lane ${this.lane} was opened before start()`));
    }
    if (this.current) {
      return Promise.reject(new SitegateError('lane_busy', `lane ${this.lane} is still open for a passage ${this.current.direction}`));
    }
    const pulsed = this.free ? { ok: true as const, untilMs: this.clock.monotonic() + this.holdMs / 2 } : this.config.relays[direction].pulse(this.pulseMs);
    if (!pulsed.ok) return Promise.reject(pulsed.error);
    const openedAtMs = this.clock.monotonic();
    const promise = new Promise<PassageResult>((resolve) => {
      const timer = this.clock.setTimeout(() => this.settle(this.current && this.current.count > 0 ? 'confirmed' : 'timeout'), this.timeoutMs);
      this.current = { direction, openedAtMs, count: 0, activations: 0, restSince: null, timer, clearTimer: null, resolve };
    });
    this.hooks.opened?.({ lane: this.lane, direction, untilMs: pulsed.untilMs });
    return promise;
  }

  private onSensor(e: EdgeEvent): void {
    const open = this.current;
    this.hooks.sensor?.({ lane: this.lane, value: e.value, timestampNs: e.timestampNs, open: open !== null });
    if (!open) {
      if (this.free && e.value === this.sensorActive) this.counts.freeActivations++;
      return;
    }
    if (open.clearTimer) this.clock.clearTimeout(open.clearTimer);
    open.clearTimer = null;
    const now = this.clock.monotonic();
    if (e.value === this.sensorActive) {
      if (open.count === 0 || (open.restSince !== null && now - open.restSince >= this.personGapMs)) open.count++;
      if (open.restSince !== null || open.activations === 0) open.activations++;
      open.restSince = null;
    } else {
      open.restSince = now;
      if (open.count > 0) open.clearTimer = this.clock.setTimeout(() => this.settle('confirmed'), this.clearMs);
    }
  }

  private settle(outcome: PassageOutcome): void {
    const open = this.current;
    if (!open) return;
    this.current = null;
    this.clock.clearTimeout(open.timer);
    if (open.clearTimer) this.clock.clearTimeout(open.clearTimer);
    const result: PassageResult = {
      lane: this.lane,
      direction: open.direction,
      outcome,
      sensorCount: open.count,
      activations: open.activations,
      openedAtMs: open.openedAtMs,
      settledAtMs: this.clock.monotonic(),
    };
    open.resolve(result);
    this.hooks.settled?.(result);
  }
}
