import type { Clock, TimerHandle } from '../../core/clock.js';
import type { InputLine, Level } from './gpio.js';

/**
 * The site's fire-alarm input, debounced on the Clock. Wire the fire panel's alarm contact so
 * that a cut wire reads as an alarm (device-tree/README.md): with the pin pulled up and the
 * panel's normally-closed contact to ground, normal = 0 and alarm (or broken wire) = 1, the
 * default `activeLevel`.
 *
 * At start() the line's level is taken at once (a gate booting into a fire opens immediately);
 * after that a change counts once the line has held it for `debounceMs`.
 */
export interface FireAlarmOptions {
  /** Requested with edge 'both' and no debounce of its own. */
  input: InputLine;
  /** Logical level that means "alarm". Default 1. */
  activeLevel?: Level;
  /** Default 50. */
  debounceMs?: number;
}

export interface FireAlarmChange {
  active: boolean;
  /** Clock monotonic ms when the change was accepted. */
  atMs: number;
}

export class FireAlarm {
  private readonly activeLevel: Level;
  private readonly debounceMs: number;
  private active = false;
  private seen: Level = 0;
  private timer: TimerHandle | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly listeners = new Set<(c: FireAlarmChange) => void>();
  private changes = 0;

  constructor(
    private readonly options: FireAlarmOptions,
    private readonly clock: Clock,
  ) {
    this.activeLevel = options.activeLevel ?? 1;
    this.debounceMs = options.debounceMs ?? 50;
    if (!(this.debounceMs >= 0) || !Number.isFinite(this.debounceMs)) throw new TypeError('FireAlarm: debounceMs must be a number >= 0');
  }

  onChange(cb: (c: FireAlarmChange) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  get alarm(): boolean {
    return this.active;
  }

  /** Accepted changes since start. */
  get changeCount(): number {
    return this.changes;
  }

  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.options.input.onEdge((e) => this.onEdge(e.value));
    this.seen = this.options.input.read();
    if ((this.seen === this.activeLevel) !== this.active) this.accept();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private onEdge(value: Level): void {
    this.seen = value;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      if ((this.seen === this.activeLevel) !== this.active) this.accept();
    }, this.debounceMs);
  }

  private accept(): void {
    this.active = !this.active;
    this.changes++;
    const change = { active: this.active, atMs: this.clock.monotonic() };
    for (const cb of this.listeners) cb(change);
  }
}
