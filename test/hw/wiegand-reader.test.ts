import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { SimGpioChip } from '../../src/gate/hw/sim/gpio-chip.js';
import { WiegandSim } from '../../src/gate/hw/sim/wiegand-sim.js';
import { encodeWiegand26 } from '../../src/gate/hw/wiegand.js';
import type { WiegandError, WiegandFrame } from '../../src/gate/hw/wiegand.js';
import { GpioEdgeSource, WiegandReader } from '../../src/gate/hw/wiegand-reader.js';

const CHIP = 'pinctrl-bcm2711';
const D0 = 5;
const D1 = 6;

describe('Wiegand reader over the simulated GPIO chip', () => {
  let clock: ManualClock;
  let chip: SimGpioChip;
  let sim: WiegandSim;
  let reader: WiegandReader;
  let frames: WiegandFrame[];
  let errors: WiegandError[];

  beforeEach(() => {
    clock = new ManualClock();
    chip = new SimGpioChip(clock, { label: CHIP, lines: 58, initial: { [D0]: 1, [D1]: 1 } });
    sim = new WiegandSim(chip, clock, { d0: D0, d1: D1 });
    const source = new GpioEdgeSource(chip, { d0: { chip: CHIP, offset: D0 }, d1: { chip: CHIP, offset: D1 } });
    reader = new WiegandReader(source, clock);
    frames = [];
    errors = [];
    reader.on('frame', (f) => frames.push(f));
    reader.on('error', (e) => errors.push(e));
    reader.start();
  });

  it('emits the swiped card after 25 ms of silence, not before', async () => {
    sim.sendCard26(42, 31337);
    await clock.advance(24);
    expect(frames).toEqual([]);
    await clock.advance(1);
    expect(frames).toEqual([expect.objectContaining({ bits: 26, facility: 42, card: 31337 })]);
    expect(reader.stats()).toEqual({ frames: 1, errors: { parity: 0, bit_count: 0, noise: 0 } });
  });

  it('decodes two cards sent back to back with silence between them', async () => {
    sim.sendCard26(1, 1000);
    await clock.advance(30);
    sim.sendCard34(0xcafe1234);
    await clock.advance(30);
    expect(frames.map((f) => [f.bits, f.card])).toEqual([
      [26, 1000],
      [34, 0xcafe1234],
    ]);
    expect(errors).toEqual([]);
  });

  it('keeps a frame paced pulse by pulse on the clock together and decodes it once', async () => {
    const done = sim.sendPaced(encodeWiegand26(7, 4242));
    await clock.advance(26 * 2.05);
    await done;
    expect(frames).toEqual([]);
    await clock.advance(25);
    expect(frames).toEqual([expect.objectContaining({ facility: 7, card: 4242 })]);
    expect(errors).toEqual([]);
  });

  it('reports and counts a parity error when the reader flips a parity bit', async () => {
    sim.sendCard26(42, 31337, { flip: [25] });
    await clock.advance(25);
    expect(frames).toEqual([]);
    expect(errors).toEqual([expect.objectContaining({ code: 'parity', parity: 'odd' })]);
    expect(reader.stats().errors.parity).toBe(1);
  });

  it('reports a bit count error when a bit is lost on the wire', async () => {
    sim.sendCard26(42, 31337, { drop: [10] });
    await clock.advance(25);
    expect(errors).toEqual([expect.objectContaining({ code: 'bit_count', bits: 25 })]);
  });

  it('reports two cards without silence between them as one bad frame', async () => {
    sim.sendCard26(1, 1);
    sim.sendCard26(2, 2);
    await clock.advance(25);
    expect(frames).toEqual([]);
    expect(errors).toEqual([expect.objectContaining({ code: 'bit_count', bits: 52 })]);
  });

  it('releases both lines on stop and drops a half-received frame', async () => {
    sim.send(encodeWiegand26(3, 3).slice(0, 10));
    reader.stop();
    await clock.advance(50);
    expect(frames).toEqual([]);
    expect(errors).toEqual([]);
    expect(chip.state.lines[D0].use).toBe('free');
    expect(chip.state.lines[D1].use).toBe('free');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('an error with nobody listening is counted, not thrown', async () => {
    const quiet = new WiegandReader(
      new GpioEdgeSource(chip, { d0: { chip: CHIP, offset: 7 }, d1: { chip: CHIP, offset: 8 } }),
      clock,
    );
    quiet.start();
    const other = new WiegandSim(chip, clock, { d0: 7, d1: 8 });
    other.send([1, 0, 1, 0, 1]);
    await clock.advance(25);
    expect(quiet.stats().errors.bit_count).toBe(1);
  });
});
