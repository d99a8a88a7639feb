import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { FireAlarm, type FireAlarmChange } from '../../src/gate/hw/fire-alarm.js';
import { Relay, relaySafeLevel } from '../../src/gate/hw/relay.js';
import { SimGpioChip } from '../../src/gate/hw/sim/gpio-chip.js';
import { TurnstileLane, type PassageResult } from '../../src/gate/hw/turnstile.js';

const CHIP = 'pinctrl-bcm2711';
// Reference pin map: lane 1 relays 17/27, sensor 22; lane 2 relays 23/24, sensor 25; fire alarm 16.
const LANES = [
  { name: 'L1', in: 17, out: 27, sensor: 22 },
  { name: 'L2', in: 23, out: 24, sensor: 25 },
];
const FIRE = 16;

describe('fire alarm and free passage', () => {
  let clock: ManualClock;
  let chip: SimGpioChip;
  let lanes: TurnstileLane[];
  let alarm: FireAlarm;
  let changes: FireAlarmChange[];

  function lane(l: (typeof LANES)[number], failFree = false): TurnstileLane {
    const relay = (offset: number, dir: string) =>
      new Relay(chip.output({ chip: CHIP, offset }, relaySafeLevel(failFree)), clock, { name: `${l.name}.${dir}`, activeLow: failFree });
    return new TurnstileLane(
      { lane: l.name, relays: { in: relay(l.in, 'in'), out: relay(l.out, 'out') }, passageSensor: chip.input({ chip: CHIP, offset: l.sensor }, { edge: 'both' }) },
      clock,
    );
  }

  function relayLevels(): number[] {
    return LANES.flatMap((l) => [chip.level(l.in), chip.level(l.out)]);
  }

  beforeEach(() => {
    clock = new ManualClock();
    chip = new SimGpioChip(clock, { label: CHIP, lines: 58 });
    lanes = LANES.map((l) => lane(l));
    for (const l of lanes) l.start();
    alarm = new FireAlarm({ input: chip.input({ chip: CHIP, offset: FIRE }, { edge: 'both' }) }, clock);
    changes = [];
    alarm.onChange((c) => {
      changes.push(c);
      for (const l of lanes) l.setFreePassage(c.active);
    });
    alarm.start();
  });

  it('puts every lane into free passage within the 50 ms debounce and restores normal operation after it clears', async () => {
    await clock.advance(1000);
    chip.inject(FIRE, 1);
    await clock.advance(49);
    expect(relayLevels()).toEqual([0, 0, 0, 0]);
    await clock.advance(1);
    expect(relayLevels()).toEqual([1, 1, 1, 1]);
    expect(lanes.every((l) => l.freePassage)).toBe(true);
    expect(changes).toEqual([{ active: true, atMs: 1050 }]);

    // Held as long as the alarm lasts: the hold is renewed, never dropped, no extra activations.
    await clock.advance(120_000);
    expect(relayLevels()).toEqual([1, 1, 1, 1]);
    expect(LANES.map((l) => chip.pulses(l.in))).toEqual([1, 1]);

    chip.inject(FIRE, 0);
    await clock.advance(50);
    expect(relayLevels()).toEqual([0, 0, 0, 0]);
    expect(lanes.some((l) => l.freePassage)).toBe(false);
    expect(changes.map((c) => c.active)).toEqual([true, false]);

    // Normal operation: a grant pulses its relay for 500 ms again.
    void lanes[0].open('in');
    expect(chip.level(17)).toBe(1);
    await clock.advance(500);
    expect(chip.level(17)).toBe(0);
    expect(chip.pulses(17)).toBe(2);
  });

  it('ignores a glitch shorter than the debounce time', async () => {
    chip.inject(FIRE, 1);
    await clock.advance(30);
    chip.inject(FIRE, 0);
    await clock.advance(200);
    expect(changes).toEqual([]);
    expect(relayLevels()).toEqual([0, 0, 0, 0]);
  });

  it('during free passage a grant is still tracked to its passage but pulses nothing', async () => {
    chip.inject(FIRE, 1);
    await clock.advance(50);
    const settled: PassageResult[] = [];
    void lanes[1].open('out').then((r) => settled.push(r));
    chip.inject(25, 1);
    await clock.advance(400);
    chip.inject(25, 0);
    await clock.advance(300);
    expect(settled).toEqual([expect.objectContaining({ lane: 'L2', direction: 'out', outcome: 'confirmed', sensorCount: 1 })]);
    expect(chip.pulses(24)).toBe(1);
    // Someone leaving without a badge during the alarm is counted.
    chip.inject(22, 1);
    expect(lanes[0].stats().freeActivations).toBe(1);
  });

  it('an alarm already active at start opens the lanes at once', async () => {
    const chip2 = new SimGpioChip(clock, { label: CHIP, lines: 58, initial: { [FIRE]: 1 } });
    const a = new FireAlarm({ input: chip2.input({ chip: CHIP, offset: FIRE }, { edge: 'both' }) }, clock);
    const seen: boolean[] = [];
    a.onChange((c) => seen.push(c.active));
    a.start();
    expect(seen).toEqual([true]);
    expect(a.alarm).toBe(true);
  });

  it('with failState free the relays idle energised (locking) and drop out for free passage, as on power loss', async () => {
    chip = new SimGpioChip(clock, { label: CHIP, lines: 58 });
    const l = lane(LANES[0], true);
    l.start();
    expect([chip.level(17), chip.level(27)]).toEqual([1, 1]);
    l.setFreePassage(true);
    expect([chip.level(17), chip.level(27)]).toEqual([0, 0]);
    l.setFreePassage(false);
    expect([chip.level(17), chip.level(27)]).toEqual([1, 1]);
  });

  it('an alarm wired active-low (panel contact closes on alarm) is configured by activeLevel 0', async () => {
    const chip2 = new SimGpioChip(clock, { label: CHIP, lines: 58, initial: { [FIRE]: 1 } });
    const a = new FireAlarm({ input: chip2.input({ chip: CHIP, offset: FIRE }, { edge: 'both' }), activeLevel: 0, debounceMs: 20 }, clock);
    a.start();
    expect(a.alarm).toBe(false);
    chip2.inject(FIRE, 0);
    await clock.advance(20);
    expect(a.alarm).toBe(true);
  });
});
