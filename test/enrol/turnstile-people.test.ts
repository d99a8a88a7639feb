import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { Relay, relaySafeLevel } from '../../src/gate/hw/relay.js';
import { SimGpioChip } from '../../src/gate/hw/sim/gpio-chip.js';
import { TurnstileLane, type PassageResult } from '../../src/gate/hw/turnstile.js';

const CHIP = 'pinctrl-bcm2711';
const SENSOR = 22;

// sensorCount counts people: activations joined when the beam rested less than personGapMs.
describe('turnstile sensor count: distinct activations', () => {
  let clock: ManualClock;
  let chip: SimGpioChip;

  beforeEach(() => {
    clock = new ManualClock();
    chip = new SimGpioChip(clock, { label: CHIP, lines: 58 });
  });

  function lane(over: { passageClearMs?: number; personGapMs?: number } = {}): TurnstileLane {
    const relay = (offset: number) => new Relay(chip.output({ chip: CHIP, offset }, relaySafeLevel()), clock, { name: String(offset) });
    const l = new TurnstileLane({ lane: 'L1', relays: { in: relay(17), out: relay(27) }, passageSensor: chip.input({ chip: CHIP, offset: SENSOR }, { edge: 'both' }), ...over }, clock);
    l.start();
    return l;
  }

  async function run(l: TurnstileLane, pattern: [number, number][]): Promise<PassageResult> {
    let result: PassageResult | undefined;
    void l.open('in').then((r) => (result = r));
    await clock.advance(100);
    for (const [active, rest] of pattern) {
      chip.inject(SENSOR, 1);
      await clock.advance(active);
      chip.inject(SENSOR, 0);
      await clock.advance(rest);
    }
    await clock.advance(10_000);
    return result!;
  }

  it('a beam flickering for a few ms is one activation: one person', async () => {
    expect(await run(lane(), [[80, 5], [5, 5], [100, 0]])).toMatchObject({ outcome: 'confirmed', sensorCount: 1, activations: 3 });
  });

  it('a rest of at least personGapMs (default 100 ms) separates two people', async () => {
    const l = lane();
    expect(await run(l, [[200, 99], [200, 0]])).toMatchObject({ sensorCount: 1, activations: 2 });
    expect(await run(l, [[200, 100], [200, 0]])).toMatchObject({ sensorCount: 2, activations: 2 });
  });

  it('a wider personGapMs joins a low beam\'s two legs; a follower after that gap still counts', async () => {
    const l = lane({ passageClearMs: 800, personGapMs: 300 });
    expect(await run(l, [[150, 200], [150, 0]])).toMatchObject({ sensorCount: 1, activations: 2 });
    expect(await run(l, [[150, 200], [150, 500], [300, 0]])).toMatchObject({ sensorCount: 2, activations: 3 });
  });

  it('refuses a negative personGapMs', () => {
    expect(() => lane({ personGapMs: -1 })).toThrow(TypeError);
  });
});
