import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import type { Level, OutputLine } from '../../src/gate/hw/gpio.js';
import { Relay, relaySafeLevel } from '../../src/gate/hw/relay.js';
import { SimGpioChip } from '../../src/gate/hw/sim/gpio-chip.js';

const CHIP = 'pinctrl-bcm2711';
const PIN = 17;

describe('Relay', () => {
  let clock: ManualClock;
  let chip: SimGpioChip;

  beforeEach(() => {
    clock = new ManualClock();
    chip = new SimGpioChip(clock, { label: CHIP, lines: 58 });
  });

  function relay(activeLow = false, lineActiveLow = false): Relay {
    const line = chip.output({ chip: CHIP, offset: PIN, activeLow: lineActiveLow }, relaySafeLevel(activeLow));
    const r = new Relay(line, clock, { name: 'lane1/in', activeLow });
    expect(r.start()).toMatchObject({ ok: true });
    return r;
  }

  it('energises for the pulse length and then releases', async () => {
    const r = relay();
    expect(chip.level(PIN)).toBe(0);
    expect(r.pulse(500)).toMatchObject({ ok: true });
    expect(chip.level(PIN)).toBe(1);
    await clock.advance(499);
    expect(chip.level(PIN)).toBe(1);
    await clock.advance(1);
    expect(chip.level(PIN)).toBe(0);
    expect(chip.pulses(PIN)).toBe(1);
    expect(r.stats()).toEqual({ pulses: 1, activations: 1, writeErrors: 0 });
  });

  it('counts separate pulses separately', async () => {
    const r = relay();
    for (let i = 0; i < 3; i++) {
      r.pulse(200);
      await clock.advance(300);
    }
    expect(chip.pulses(PIN)).toBe(3);
    expect(chip.level(PIN)).toBe(0);
    expect(r.stats().activations).toBe(3);
    expect(chip.writesTo(PIN).map((w) => [w.atMs, w.level, w.kind])).toEqual([
      [0, 0, 'request'],
      [0, 0, 'write'],
      [0, 1, 'write'],
      [200, 0, 'write'],
      [300, 1, 'write'],
      [500, 0, 'write'],
      [600, 1, 'write'],
      [800, 0, 'write'],
    ]);
  });

  it('extends a pulse when pulsed again while active, without a second activation', async () => {
    const r = relay();
    r.pulse(500);
    await clock.advance(300);
    expect(r.pulse(500)).toEqual({ ok: true, untilMs: 800 });
    await clock.advance(300);
    expect(chip.level(PIN)).toBe(1);
    // A shorter pulse inside the current one does not cut it short.
    expect(r.pulse(50)).toEqual({ ok: true, untilMs: 800 });
    await clock.advance(199);
    expect(chip.level(PIN)).toBe(1);
    await clock.advance(1);
    expect(chip.level(PIN)).toBe(0);
    expect(chip.pulses(PIN)).toBe(1);
    expect(r.stats()).toEqual({ pulses: 3, activations: 1, writeErrors: 0 });
  });

  it('drives an active-low relay board low to energise it', async () => {
    const r = relay(true);
    expect(chip.level(PIN)).toBe(1);
    r.pulse(100);
    expect(chip.level(PIN)).toBe(0);
    await clock.advance(100);
    expect(chip.level(PIN)).toBe(1);
  });

  it('works the same when the inversion sits on the line instead', async () => {
    const r = relay(false, true);
    expect(chip.level(PIN)).toBe(1);
    r.pulse(100);
    expect(chip.level(PIN)).toBe(0);
    await clock.advance(100);
    expect(chip.level(PIN)).toBe(1);
  });

  it('stop releases at once and leaves no timer behind', async () => {
    const r = relay();
    r.pulse(5000);
    r.stop();
    expect(chip.level(PIN)).toBe(0);
    expect(r.active).toBe(false);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('refuses bad durations and pulses before start without touching the line', () => {
    const line = chip.output({ chip: CHIP, offset: PIN }, 0);
    const r = new Relay(line, clock, { name: 'lane1/out', maxPulseMs: 10_000 });
    expect(r.pulse(100)).toMatchObject({ ok: false, error: { code: 'relay_not_started' } });
    r.start();
    for (const ms of [0, -5, Number.NaN, 10_001]) {
      expect(r.pulse(ms)).toMatchObject({ ok: false, error: { code: 'relay_bad_duration' } });
    }
    expect(chip.level(PIN)).toBe(0);
    expect(r.stats().pulses).toBe(0);
  });

  it('returns a write failure as an error and retries a failed release until it succeeds', async () => {
    let level: Level = 0;
    let failures = 0;
    const line: OutputLine = {
      write: (v) => {
        if (failures > 0) {
          failures--;
          throw new Error('EIO');
        }
        level = v;
      },
      read: () => level,
      close: () => {},
    };
    const r = new Relay(line, clock, { name: 'lane2/in' });
    r.start();
    failures = 1;
    expect(r.pulse(100)).toMatchObject({ ok: false, error: { code: 'relay_write_failed' } });
    expect(level).toBe(0);

    expect(r.pulse(100)).toMatchObject({ ok: true });
    expect(level).toBe(1);
    failures = 2;
    await clock.advance(100);
    expect(level).toBe(1);
    await clock.advance(200);
    expect(level).toBe(0);
    expect(r.stats().writeErrors).toBe(3);
  });
});
