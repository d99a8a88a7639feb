import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Level, OutputLine } from './gpio.js';

/**
 * A lane's red and green LEDs and its buzzer, playing one pattern per outcome on the Clock. A
 * worker who cannot read a display must still tell the outcomes apart by colour, rhythm and
 * sound, so every pattern differs from every other in at least two of the three.
 *
 * A pattern is, per output, alternating on/off durations in ms starting with "on"; the output is
 * off after the last one. A new pattern cuts the one playing.
 */
export type IndicatorPattern = 'granted' | 'denied' | 'unknown' | 'spoof' | 'fault';

export interface PatternSpec {
  red: readonly number[];
  green: readonly number[];
  buzzer: readonly number[];
}

const blinks = (n: number, on: number, off: number): number[] => Array.from({ length: n * 2 - 1 }, (_, i) => (i % 2 ? off : on));

export const INDICATOR_PATTERNS: Readonly<Record<IndicatorPattern, PatternSpec>> = {
  /** green steady 1.5 s, one short beep */
  granted: { red: [], green: [1500], buzzer: [80] },
  /** red steady 1.5 s, two beeps */
  denied: { red: [1500], green: [], buzzer: [150, 100, 150] },
  /** red blinking three times, one long beep: the card is not known at all */
  unknown: { red: blinks(3, 250, 250), green: [], buzzer: [600] },
  /** red fast blinking for 2 s with a rapid beeping: a presentation attack (photo, screen, mask) */
  spoof: { red: blinks(10, 100, 100), green: [], buzzer: blinks(10, 100, 100) },
  /** red and green together, slow blink, one very long beep: the gate itself needs a technician */
  fault: { red: blinks(3, 500, 500), green: blinks(3, 500, 500), buzzer: [1500] },
};

export interface IndicatorOutputs {
  red?: OutputLine;
  green?: OutputLine;
  buzzer?: OutputLine;
}

export interface IndicatorStats {
  played: Record<IndicatorPattern, number>;
  writeErrors: number;
}

type Channel = keyof PatternSpec;
const CHANNELS: readonly Channel[] = ['red', 'green', 'buzzer'];

export class Indicator {
  private timers = new Map<Channel, TimerHandle>();
  private readonly counts: IndicatorStats = { played: { granted: 0, denied: 0, unknown: 0, spoof: 0, fault: 0 }, writeErrors: 0 };
  private current: IndicatorPattern | null = null;

  constructor(
    private readonly outputs: IndicatorOutputs,
    private readonly clock: Clock,
    private readonly patterns: Readonly<Record<IndicatorPattern, PatternSpec>> = INDICATOR_PATTERNS,
  ) {}

  /** All outputs off. */
  start(): void {
    this.allOff();
  }

  stop(): void {
    this.allOff();
  }

  /** The pattern playing now, or null. */
  get playing(): IndicatorPattern | null {
    return this.current;
  }

  stats(): IndicatorStats {
    return { played: { ...this.counts.played }, writeErrors: this.counts.writeErrors };
  }

  play(pattern: IndicatorPattern): void {
    this.allOff();
    this.current = pattern;
    this.counts.played[pattern]++;
    const spec = this.patterns[pattern];
    for (const ch of CHANNELS) this.step(ch, spec[ch], 0);
  }

  private step(ch: Channel, durations: readonly number[], i: number): void {
    this.timers.delete(ch);
    if (i >= durations.length) {
      this.write(ch, 0);
      if (this.timers.size === 0) this.current = null;
      return;
    }
    this.write(ch, i % 2 === 0 ? 1 : 0);
    this.timers.set(ch, this.clock.setTimeout(() => this.step(ch, durations, i + 1), durations[i]));
  }

  private allOff(): void {
    for (const t of this.timers.values()) this.clock.clearTimeout(t);
    this.timers.clear();
    this.current = null;
    for (const ch of CHANNELS) this.write(ch, 0);
  }

  // An LED that cannot be driven must not stop the gate: counted, never thrown.
  private write(ch: Channel, v: Level): void {
    const line = this.outputs[ch];
    if (!line) return;
    try {
      line.write(v);
    } catch {
      this.counts.writeErrors++;
    }
  }
}
