import { sleep, type Clock } from '../../../core/clock.js';
import { monotonicNs } from '../gpio.js';
import { encodeWiegand26, encodeWiegand34, type Bit } from '../wiegand.js';
import type { SimGpioChip } from './gpio-chip.js';

/**
 * A Wiegand reader on the wire: writes a card's bits as pulses into a SimGpioChip's D0/D1 pins
 * (idle high; a 0 pulses D0 low, a 1 pulses D1 low).
 */
export interface WiegandSimOptions {
  /** Offsets of the D0 and D1 pins on the chip. */
  d0: number;
  d1: number;
  /** Pulse width, µs. Default 50. */
  pulseUs?: number;
  /** Gap between pulses, µs. Default 2000. */
  gapUs?: number;
}

export interface WiegandFaults {
  /** Indexes (0-based) of bits to invert, e.g. 0 for the even parity bit. */
  flip?: number[];
  /** Indexes (0-based) of bits not sent. */
  drop?: number[];
}

export class WiegandSim {
  private readonly pulseNs: bigint;
  private readonly gapNs: bigint;
  /** End of the last computed frame, so timestamps never run backwards. */
  private lastNs = -1n;

  constructor(
    private readonly chip: SimGpioChip,
    private readonly clock: Clock,
    private readonly options: WiegandSimOptions,
  ) {
    this.pulseNs = BigInt(Math.round((options.pulseUs ?? 50) * 1e3));
    this.gapNs = BigInt(Math.round((options.gapUs ?? 2000) * 1e3));
  }

  /** Raises both lines to their idle level. */
  idle(): void {
    this.chip.inject(this.options.d0, 1);
    this.chip.inject(this.options.d1, 1);
  }

  /**
   * Sends the bits at once, with computed timestamps starting now on the clock (or after the
   * previous frame). The clock does not move: the reader sees the whole frame, then the test
   * advances the clock through the silence.
   */
  send(bits: readonly Bit[], faults: WiegandFaults = {}): void {
    this.idle();
    let t = monotonicNs(this.clock);
    if (t <= this.lastNs) t = this.lastNs + this.gapNs;
    for (const bit of applyFaults(bits, faults)) {
      const pin = bit === 0 ? this.options.d0 : this.options.d1;
      this.chip.inject(pin, 0, t);
      this.chip.inject(pin, 1, t + this.pulseNs);
      this.lastNs = t + this.pulseNs;
      t += this.pulseNs + this.gapNs;
    }
  }

  /**
   * Sends the bits paced on the clock (each pulse a timer), timestamps from the clock; resolves
   * after the last pulse. On a ManualClock, advance it to let the pulses out.
   */
  async sendPaced(bits: readonly Bit[], faults: WiegandFaults = {}): Promise<void> {
    this.idle();
    const pulseMs = Number(this.pulseNs) / 1e6;
    const gapMs = Number(this.gapNs) / 1e6;
    const sent = applyFaults(bits, faults);
    for (let i = 0; i < sent.length; i++) {
      const pin = sent[i] === 0 ? this.options.d0 : this.options.d1;
      this.chip.inject(pin, 0);
      await sleep(this.clock, pulseMs);
      this.chip.inject(pin, 1);
      if (i < sent.length - 1) await sleep(this.clock, gapMs);
    }
    this.lastNs = monotonicNs(this.clock);
  }

  sendCard26(facility: number, card: number, faults?: WiegandFaults): void {
    this.send(encodeWiegand26(facility, card), faults);
  }

  sendCard34(value: number, faults?: WiegandFaults): void {
    this.send(encodeWiegand34(value), faults);
  }
}

function applyFaults(bits: readonly Bit[], faults: WiegandFaults): Bit[] {
  const flip = new Set(faults.flip ?? []);
  const drop = new Set(faults.drop ?? []);
  const out: Bit[] = [];
  bits.forEach((b, i) => {
    if (drop.has(i)) return;
    out.push(flip.has(i) ? ((1 - b) as Bit) : b);
  });
  return out;
}
