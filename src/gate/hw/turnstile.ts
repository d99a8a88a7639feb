import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Direction, PassageOutcome } from '../../core/entries.js';
import { SitegateError } from '../../core/errors.js';
import type { EdgeEvent, InputLine, Level } from './gpio.js';
import type { Relay } from './relay.js';

/**
 * One turnstile lane: a relay per direction and a passage sensor. open() releases the turnstile
 * and settles when the sensor shows a passage or the time-out passes.
 *
 * Passage: the sensor goes active (an activation, counted) and back. A passage is confirmed once
 * the sensor has stayed at rest for `passageClearMs` after at least one activation (a person's two
 * legs break a beam twice: one passage, two activations), or at the time-out if it activated at
 * all (someone still in the beam); with no activation it is a time-out. Edges outside an open
 * window only reach the hooks.
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
}

export interface PassageResult {
  lane: string;
  direction: Direction;
  /** `interrupted` only when the lane is stopped while a passage is open. */
  outcome: PassageOutcome;
  /** Sensor activations while the lane was open. */
  sensorCount: number;
  /** Clock monotonic ms. */
  openedAtMs: number;
  settledAtMs: number;
}

/** Where later features attach (LEDs, buzzer, fire alarm, events). */
export interface TurnstileHooks {
  opened?(e: { lane: string; direction: Direction; untilMs: number }): void;
  sensor?(e: { lane: string; value: Level; timestampNs: bigint; open: boolean }): void;
  settled?(r: PassageResult): void;
}

interface OpenPassage {
  direction: Direction;
  openedAtMs: number;
  count: number;
  timer: TimerHandle;
  clearTimer: TimerHandle | null;
  resolve: (r: PassageResult) => void;
}

export class TurnstileLane {
  private readonly pulseMs: number;
  private readonly timeoutMs: number;
  private readonly clearMs: number;
  private readonly sensorActive: Level;
  private current: OpenPassage | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly config: TurnstileLaneConfig,
    private readonly clock: Clock,
    private readonly hooks: TurnstileHooks = {},
  ) {
    this.pulseMs = config.pulseMs ?? 500;
    this.timeoutMs = config.passageTimeoutMs ?? 8000;
    this.clearMs = config.passageClearMs ?? 300;
    this.sensorActive = config.sensorActive ?? 1;
    if (!(this.pulseMs > 0) || !(this.timeoutMs > 0) || !(this.clearMs >= 0)) {
      throw new TypeError(`lane ${config.lane}: pulseMs and passageTimeoutMs must be positive, passageClearMs not negative`);
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

  /** Releases both relays; an open passage settles as `interrupted`. */
  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
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
    const pulsed = this.config.relays[direction].pulse(this.pulseMs);
    if (!pulsed.ok) return Promise.reject(pulsed.error);
    const openedAtMs = this.clock.monotonic();
    const promise = new Promise<PassageResult>((resolve) => {
      const timer = this.clock.setTimeout(() => this.settle(this.current && this.current.count > 0 ? 'confirmed' : 'timeout'), this.timeoutMs);
      this.current = { direction, openedAtMs, count: 0, timer, clearTimer: null, resolve };
    });
    this.hooks.opened?.({ lane: this.lane, direction, untilMs: pulsed.untilMs });
    return promise;
  }

  private onSensor(e: EdgeEvent): void {
    const open = this.current;
    this.hooks.sensor?.({ lane: this.lane, value: e.value, timestampNs: e.timestampNs, open: open !== null });
    if (!open) return;
    if (open.clearTimer) this.clock.clearTimeout(open.clearTimer);
    open.clearTimer = null;
    if (e.value === this.sensorActive) open.count++;
    else if (open.count > 0) open.clearTimer = this.clock.setTimeout(() => this.settle('confirmed'), this.clearMs);
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
      openedAtMs: open.openedAtMs,
      settledAtMs: this.clock.monotonic(),
    };
    open.resolve(result);
    this.hooks.settled?.(result);
  }
}
