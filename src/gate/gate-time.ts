import type { Clock } from '../core/clock.js';

/** A wall clock stepping back by more than this (against the monotonic clock) is a jump. */
export const CLOCK_JUMP_TOLERANCE_MS = 2000;

export interface ClockJump {
  /** how far the wall clock went back, ms */
  backMs: number;
  /** wall ms before and after the step */
  fromMs: number;
  toMs: number;
}

/**
 * Whether the gate's wall clock can be trusted for a punch. It can not before NTP (or whatever
 * `synced` asks) says so, nor after the wall clock stepped backwards until it has caught up with
 * the latest time it showed before the step: so among punches marked synchronised, time never
 * runs backwards within a boot, and the hub corrects the marked ones from a later synchronised
 * entry of the same boot. The chain itself never depends on time.
 */
export class GateTime {
  private offset: number | null = null;
  private highWallMs = -Infinity;
  private jumpedUntilMs: number | null = null;
  private jumps = 0;

  constructor(
    private readonly clock: Clock,
    private readonly synced: () => boolean,
    private readonly onJump: (j: ClockJump | null) => void = () => undefined,
  ) {}

  /** True while punches may say their time is synchronised. Checks for a jump on each call. */
  isSynced(): boolean {
    this.observe();
    return this.synced() && this.jumpedUntilMs === null;
  }

  /** A jump back is being waited out. */
  get jumped(): boolean {
    this.observe();
    return this.jumpedUntilMs !== null;
  }

  get jumpCount(): number {
    return this.jumps;
  }

  private observe(): void {
    const wall = this.clock.now();
    const offset = wall - this.clock.monotonic();
    if (this.offset !== null && offset < this.offset - CLOCK_JUMP_TOLERANCE_MS) {
      this.jumps++;
      const before = this.offset + this.clock.monotonic();
      this.jumpedUntilMs = Math.max(this.jumpedUntilMs ?? -Infinity, this.highWallMs);
      this.onJump({ backMs: Math.round(before - wall), fromMs: Math.round(before), toMs: wall });
    }
    this.offset = offset;
    if (wall > this.highWallMs) this.highWallMs = wall;
    if (this.jumpedUntilMs !== null && wall >= this.jumpedUntilMs) {
      this.jumpedUntilMs = null;
      this.onJump(null);
    }
  }
}
