import type { Clock, TimerHandle } from './clock.js';

interface Pending {
  id: number;
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that only moves when told to. Timers fire in time order during advance(); between
 * timers, pending promise callbacks get to run, so async code driven by timers behaves as it
 * would on the real clock.
 */
export class ManualClock implements Clock {
  private wall: number;
  private mono = 0;
  private timers: Pending[] = [];
  private nextId = 1;
  private nextSeq = 0;

  constructor(startWallMs = Date.UTC(2026, 10, 21, 0, 0, 0)) {
    this.wall = startWallMs;
  }

  now(): number {
    return this.wall;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.push({ id, at: this.mono + Math.max(0, ms), seq: this.nextSeq++, fn });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.id !== handle.id);
  }

  /** Number of timers waiting to fire. */
  pendingTimers(): number {
    return this.timers.length;
  }

  /** Move the wall clock alone (a clock sync or an operator's correction). */
  setWall(ms: number): void {
    this.wall = ms;
  }

  /** Advance both clocks by `ms`, firing due timers in order and letting promises settle. */
  async advance(ms: number): Promise<void> {
    const target = this.mono + ms;
    await flushMicrotasks();
    for (;;) {
      const due = this.timers
        .filter((t) => t.at <= target)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.wall += due.at - this.mono;
      this.mono = due.at;
      due.fn();
      await flushMicrotasks();
    }
    this.wall += target - this.mono;
    this.mono = target;
    await flushMicrotasks();
  }

  /** Advance in steps until `done()` holds or `maxMs` has passed; returns whether it held. */
  async runUntil(done: () => boolean, maxMs: number, stepMs = 10): Promise<boolean> {
    let spent = 0;
    while (!done() && spent < maxMs) {
      await this.advance(stepMs);
      spent += stepMs;
    }
    return done();
  }
}

export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}
