import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { OnoffGpioProvider, listSysfsChips, resolveSysfsNumber } from '../../src/gate/hw/gpio-onoff.js';

/** A fake /sys/class/gpio as a Pi 4 on kernel 6.6 shows it, plus one unreadable chip. */
function fakeSysfs(): string {
  const root = mkdtempSync(join(tmpdir(), 'sitegate-sysfs-'));
  const chip = (dir: string, files: Record<string, string>) => {
    mkdirSync(join(root, dir));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(root, dir, name), text);
  };
  chip('gpiochip512', { label: 'pinctrl-bcm2711\n', base: '512\n', ngpio: '58\n' });
  chip('gpiochip570', { label: 'raspberrypi-exp-gpio\n', base: '570\n', ngpio: '8\n' });
  chip('gpiochip600', { label: 'broken\n', base: 'abc\n', ngpio: '8\n' });
  chip('gpiochip601', { label: 'half\n' });
  writeFileSync(join(root, 'export'), '');
  return root;
}

describe('sysfs GPIO number resolution', () => {
  let root: string;
  beforeAll(() => {
    root = fakeSysfs();
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('lists the readable chips with base and line count, skipping broken ones', () => {
    expect(listSysfsChips(root).map(({ label, base, lines }) => ({ label, base, lines }))).toEqual([
      { label: 'pinctrl-bcm2711', base: 512, lines: 58 },
      { label: 'raspberrypi-exp-gpio', base: 570, lines: 8 },
    ]);
  });

  it('resolves pinctrl-bcm2711 offset 17 to sysfs number 529', () => {
    expect(resolveSysfsNumber({ chip: 'pinctrl-bcm2711', offset: 17 }, listSysfsChips(root))).toBe(529);
  });

  it('resolves an offset on a second chip against that chip’s base', () => {
    expect(resolveSysfsNumber({ chip: 'raspberrypi-exp-gpio', offset: 2 }, listSysfsChips(root))).toBe(572);
  });

  it('resolves a named line through the pin map', () => {
    const names = { 'pinctrl-bcm2711': { RELAY_IN: 17 } };
    expect(resolveSysfsNumber({ chip: 'pinctrl-bcm2711', name: 'RELAY_IN' }, listSysfsChips(root), names)).toBe(529);
    expect(() => resolveSysfsNumber({ chip: 'pinctrl-bcm2711', name: 'NOPE' }, listSysfsChips(root), names)).toThrow(
      expect.objectContaining({ code: 'gpio_line_name_unknown' }),
    );
  });

  it('names the missing chip and the chips present when the label is not found', () => {
    const run = () => resolveSysfsNumber({ chip: 'pinctrl-rp1', offset: 17 }, listSysfsChips(root));
    expect(run).toThrow(expect.objectContaining({ code: 'gpio_chip_not_found' }));
    expect(run).toThrow(/"pinctrl-rp1" not found \(chips present: pinctrl-bcm2711, raspberrypi-exp-gpio\)/);
  });

  it('names the chip and its range when the offset is past its last line', () => {
    const run = () => resolveSysfsNumber({ chip: 'pinctrl-bcm2711', offset: 58 }, listSysfsChips(root));
    expect(run).toThrow(expect.objectContaining({ code: 'gpio_offset_out_of_range' }));
    expect(run).toThrow(/offset 58 .*"pinctrl-bcm2711" \(58 lines, offsets 0-57\)/);
    expect(resolveSysfsNumber({ chip: 'pinctrl-bcm2711', offset: 57 }, listSysfsChips(root))).toBe(569);
  });

  it('rejects a spec that gives both or neither of offset and name', () => {
    const chips = listSysfsChips(root);
    expect(() => resolveSysfsNumber({ chip: 'pinctrl-bcm2711' }, chips)).toThrow(expect.objectContaining({ code: 'gpio_bad_line_spec' }));
    expect(() => resolveSysfsNumber({ chip: 'pinctrl-bcm2711', offset: 1, name: 'X' }, chips)).toThrow(/exactly one/);
    expect(() => resolveSysfsNumber({ chip: 'pinctrl-bcm2711', offset: -1 }, chips)).toThrow(/non-negative/);
  });

  it('reports a missing sysfs root clearly', () => {
    expect(() => listSysfsChips(join(root, 'missing'))).toThrow(expect.objectContaining({ code: 'gpio_sysfs_unreadable' }));
  });

  it('the onoff provider fails on a missing chip before it touches onoff', () => {
    const provider = new OnoffGpioProvider(new ManualClock(), { sysfsRoot: root });
    expect(() => provider.output({ chip: 'pinctrl-rp1', offset: 4 }, 0)).toThrow(expect.objectContaining({ code: 'gpio_chip_not_found' }));
    expect(() => provider.input({ chip: 'pinctrl-bcm2711', offset: 99 }, { edge: 'both' })).toThrow(
      expect.objectContaining({ code: 'gpio_offset_out_of_range' }),
    );
  });
});
