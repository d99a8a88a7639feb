import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import type { EdgeEvent } from '../../src/gate/hw/gpio.js';
import { SimGpioChip } from '../../src/gate/hw/sim/gpio-chip.js';

const CHIP = 'pinctrl-bcm2711';

describe('simulated GPIO chip', () => {
  let clock: ManualClock;
  let chip: SimGpioChip;

  beforeEach(() => {
    clock = new ManualClock();
    chip = new SimGpioChip(clock, { label: CHIP, lines: 58, names: { DOOR: 4 }, initial: { 9: 1 } });
  });

  it('delivers injected edges of the requested kind with their timestamps', () => {
    const rising: EdgeEvent[] = [];
    const both: EdgeEvent[] = [];
    chip.input({ chip: CHIP, offset: 3 }, { edge: 'rising' }).onEdge((e) => rising.push(e));
    chip.inject(3, 1, 1000n);
    chip.inject(3, 1, 1500n); // no change, no edge
    chip.inject(3, 0, 2000n);
    expect(rising).toEqual([{ value: 1, timestampNs: 1000n }]);

    const line = chip.input({ chip: CHIP, name: 'DOOR' }, { edge: 'both' });
    line.onEdge((e) => both.push(e));
    chip.inject(4, 1, 10n);
    chip.inject(4, 0, 20n);
    expect(both.map((e) => e.value)).toEqual([1, 0]);
    expect(line.read()).toBe(0);
  });

  it('stamps edges with the clock when no timestamp is given', async () => {
    const seen: EdgeEvent[] = [];
    chip.input({ chip: CHIP, offset: 3 }, { edge: 'both' }).onEdge((e) => seen.push(e));
    await clock.advance(12.5);
    chip.inject(3, 1);
    expect(seen).toEqual([{ value: 1, timestampNs: 12_500_000n }]);
  });

  it('inverts what an active-low input sees', () => {
    const seen: EdgeEvent[] = [];
    const line = chip.input({ chip: CHIP, offset: 9, activeLow: true }, { edge: 'falling' });
    expect(line.read()).toBe(0);
    line.onEdge((e) => seen.push(e));
    chip.inject(9, 0, 5n);
    expect(seen).toEqual([]);
    chip.inject(9, 1, 6n);
    expect(seen).toEqual([{ value: 0, timestampNs: 6n }]);
  });

  it('debounces an input on the clock', async () => {
    const seen: EdgeEvent[] = [];
    chip.input({ chip: CHIP, offset: 3 }, { edge: 'both', debounceMs: 20 }).onEdge((e) => seen.push(e));
    chip.inject(3, 1);
    await clock.advance(5);
    chip.inject(3, 0);
    await clock.advance(5);
    chip.inject(3, 1);
    await clock.advance(19);
    expect(seen).toEqual([]);
    await clock.advance(1);
    expect(seen.map((e) => e.value)).toEqual([1]);
  });

  it('stops delivering after unsubscribe or close, and frees the line on close', () => {
    const seen: EdgeEvent[] = [];
    const line = chip.input({ chip: CHIP, offset: 3 }, { edge: 'both' });
    const off = line.onEdge((e) => seen.push(e));
    chip.inject(3, 1);
    off();
    chip.inject(3, 0);
    expect(seen).toHaveLength(1);
    expect(() => chip.input({ chip: CHIP, offset: 3 }, { edge: 'both' })).toThrow(expect.objectContaining({ code: 'gpio_line_busy' }));
    line.close();
    expect(() => chip.input({ chip: CHIP, offset: 3 }, { edge: 'both' })).not.toThrow();
  });

  it('starts outputs in their safe state, counts rising edges, logs writes and restores the safe state on close', async () => {
    const out = chip.output({ chip: CHIP, offset: 17 }, 0);
    expect(chip.level(17)).toBe(0);
    out.write(1);
    await clock.advance(10);
    out.write(0);
    out.write(0);
    out.write(1);
    expect(chip.pulses(17)).toBe(2);
    out.close();
    expect(chip.level(17)).toBe(0);
    expect(() => out.write(1)).toThrow(expect.objectContaining({ code: 'gpio_line_closed' }));
    expect(chip.writesTo(17).map((w) => [w.atMs, w.level, w.kind])).toEqual([
      [0, 0, 'request'],
      [0, 1, 'write'],
      [10, 0, 'write'],
      [10, 0, 'write'],
      [10, 1, 'write'],
      [10, 0, 'release'],
    ]);
  });

  it('drives an active-low output inverted from its first instant', () => {
    const out = chip.output({ chip: CHIP, offset: 18, activeLow: true }, 0);
    expect(chip.level(18)).toBe(1);
    out.write(1);
    expect(chip.level(18)).toBe(0);
    expect(out.read()).toBe(1);
  });

  it('refuses injection into an output, unknown chips and lines past the end', () => {
    chip.output({ chip: CHIP, offset: 17 }, 0);
    expect(() => chip.inject(17, 1)).toThrow(expect.objectContaining({ code: 'gpio_sim_inject_output' }));
    expect(() => chip.output({ chip: 'pinctrl-rp1', offset: 1 }, 0)).toThrow(expect.objectContaining({ code: 'gpio_chip_not_found' }));
    expect(() => chip.input({ chip: CHIP, offset: 58 }, { edge: 'both' })).toThrow(expect.objectContaining({ code: 'gpio_offset_out_of_range' }));
    expect(() => chip.input({ chip: CHIP, name: 'NOPE' }, { edge: 'both' })).toThrow(expect.objectContaining({ code: 'gpio_line_name_unknown' }));
  });

  it('keeps its write log bounded', () => {
    const small = new SimGpioChip(clock, { label: CHIP, lines: 4, maxLog: 10 });
    const out = small.output({ chip: CHIP, offset: 1 }, 0);
    for (let i = 0; i < 100; i++) out.write((i % 2) as 0 | 1);
    expect(small.state.writes).toHaveLength(10);
    expect(small.pulses(1)).toBe(50);
  });

  it('holds its whole state in one plain object that survives JSON', () => {
    chip.output({ chip: CHIP, offset: 17 }, 1);
    const copy = JSON.parse(JSON.stringify(chip.state));
    expect(copy.label).toBe(CHIP);
    expect(copy.lines[17]).toMatchObject({ use: 'output', level: 1 });
    expect(copy.lines[4]).toMatchObject({ name: 'DOOR', use: 'free' });
  });
});
