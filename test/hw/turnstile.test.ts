import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { Relay, relaySafeLevel } from '../../src/gate/hw/relay.js';
import { SimGpioChip } from '../../src/gate/hw/sim/gpio-chip.js';
import { TurnstileLane, type PassageResult } from '../../src/gate/hw/turnstile.js';

const CHIP = 'pinctrl-bcm2711';
const RELAY_IN = 17;
const RELAY_OUT = 27;
const SENSOR = 22;

describe('Turnstile lane', () => {
  let clock: ManualClock;
  let chip: SimGpioChip;
  let lane: TurnstileLane;
  let settled: PassageResult[];

  beforeEach(() => {
    clock = new ManualClock();
    chip = new SimGpioChip(clock, { label: CHIP, lines: 58 });
    const relayOn = (offset: number, name: string) =>
      new Relay(chip.output({ chip: CHIP, offset }, relaySafeLevel()), clock, { name });
    settled = [];
    lane = new TurnstileLane(
      {
        lane: 'lane1',
        relays: { in: relayOn(RELAY_IN, 'lane1/in'), out: relayOn(RELAY_OUT, 'lane1/out') },
        passageSensor: chip.input({ chip: CHIP, offset: SENSOR }, { edge: 'both' }),
      },
      clock,
      { settled: (r) => settled.push(r) },
    );
    lane.start();
  });

  /** Tracks a promise's settlement without awaiting it. */
  function watch<T>(p: Promise<T>): { value?: T; error?: unknown } {
    const box: { value?: T; error?: unknown } = {};
    p.then((v) => (box.value = v), (e) => (box.error = e));
    return box;
  }

  it('confirms a passage once the sensor has been clear for 300 ms, pulsing only the relay for that direction', async () => {
    const result = watch(lane.open('in'));
    expect(chip.level(RELAY_IN)).toBe(1);
    expect(chip.level(RELAY_OUT)).toBe(0);
    await clock.advance(1200);
    chip.inject(SENSOR, 1);
    await clock.advance(300);
    chip.inject(SENSOR, 0);
    await clock.advance(299);
    expect(result.value).toBeUndefined();
    await clock.advance(1);
    expect(result.value).toMatchObject({ lane: 'lane1', direction: 'in', outcome: 'confirmed', sensorCount: 1, openedAtMs: 0, settledAtMs: 1800 });
    expect(chip.pulses(RELAY_IN)).toBe(1);
    expect(chip.pulses(RELAY_OUT)).toBe(0);
    expect(chip.level(RELAY_IN)).toBe(0);
    expect(settled).toHaveLength(1);
    expect(lane.busy).toBe(false);
  });

  it('times out after 8 s when nobody passes', async () => {
    const result = watch(lane.open('out'));
    await clock.advance(7999);
    expect(result.value).toBeUndefined();
    await clock.advance(1);
    expect(result.value).toMatchObject({ direction: 'out', outcome: 'timeout', sensorCount: 0, settledAtMs: 8000 });
    expect(chip.pulses(RELAY_OUT)).toBe(1);
    expect(chip.level(RELAY_OUT)).toBe(0);
  });

  it('counts a passage as confirmed at the time-out when the sensor activated but never cleared', async () => {
    const result = watch(lane.open('in'));
    await clock.advance(100);
    chip.inject(SENSOR, 1);
    await clock.advance(8000);
    expect(result.value).toMatchObject({ outcome: 'confirmed', sensorCount: 1 });
  });

  it('counts both legs breaking the beam as one passage with two activations', async () => {
    const result = watch(lane.open('in'));
    await clock.advance(500);
    chip.inject(SENSOR, 1);
    await clock.advance(150);
    chip.inject(SENSOR, 0);
    await clock.advance(200);
    chip.inject(SENSOR, 1);
    await clock.advance(150);
    chip.inject(SENSOR, 0);
    await clock.advance(300);
    expect(result.value).toMatchObject({ outcome: 'confirmed', sensorCount: 2, settledAtMs: 1300 });
  });

  it('ignores sensor edges while the lane is closed', async () => {
    chip.inject(SENSOR, 1);
    chip.inject(SENSOR, 0);
    const result = watch(lane.open('out'));
    await clock.advance(8000);
    expect(result.value).toMatchObject({ outcome: 'timeout', sensorCount: 0 });
    chip.inject(SENSOR, 1);
    chip.inject(SENSOR, 0);
    await clock.advance(1000);
    expect(settled).toHaveLength(1);
  });

  it('refuses a second open while a passage is open', async () => {
    const first = watch(lane.open('in'));
    const second = watch(lane.open('out'));
    await clock.advance(0);
    expect(second.error).toMatchObject({ code: 'lane_busy' });
    expect(chip.pulses(RELAY_OUT)).toBe(0);
    await clock.advance(8000);
    expect(first.value).toMatchObject({ outcome: 'timeout' });
  });

  it('settles an open passage as interrupted on stop and releases both relays', async () => {
    const result = watch(lane.open('in'));
    await clock.advance(100);
    lane.stop();
    await clock.advance(0);
    expect(result.value).toMatchObject({ outcome: 'interrupted', sensorCount: 0 });
    expect(chip.level(RELAY_IN)).toBe(0);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('refuses to open before start', async () => {
    const idle = new TurnstileLane(
      {
        lane: 'lane2',
        relays: {
          in: new Relay(chip.output({ chip: CHIP, offset: 5 }, 0), clock, { name: 'lane2/in' }),
          out: new Relay(chip.output({ chip: CHIP, offset: 6 }, 0), clock, { name: 'lane2/out' }),
        },
        passageSensor: chip.input({ chip: CHIP, offset: 23 }, { edge: 'both' }),
      },
      clock,
    );
    await expect(idle.open('in')).rejects.toMatchObject({ code: 'lane_not_started' });
  });
});
