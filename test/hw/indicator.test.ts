import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { INDICATOR_PATTERNS, Indicator, type IndicatorPattern } from '../../src/gate/hw/indicator.js';
import { SimGpioChip } from '../../src/gate/hw/sim/gpio-chip.js';

const CHIP = 'pinctrl-bcm2711';
const RED = 12;
const GREEN = 13;
const BUZZER = 19;
const PATTERNS = Object.keys(INDICATOR_PATTERNS) as IndicatorPattern[];

describe('LED and buzzer indicator', () => {
  let clock: ManualClock;
  let chip: SimGpioChip;
  let indicator: Indicator;

  beforeEach(() => {
    clock = new ManualClock();
    chip = new SimGpioChip(clock, { label: CHIP, lines: 58 });
    const out = (offset: number) => chip.output({ chip: CHIP, offset }, 0);
    indicator = new Indicator({ red: out(RED), green: out(GREEN), buzzer: out(BUZZER) }, clock);
    indicator.start();
  });

  /** What the pins did, sampled every 10 ms for 3 s: one string per pin. */
  async function record(pattern: IndicatorPattern): Promise<Record<'red' | 'green' | 'buzzer', string>> {
    indicator.play(pattern);
    const trace = { red: '', green: '', buzzer: '' };
    for (let t = 0; t < 3000; t += 10) {
      trace.red += chip.level(RED);
      trace.green += chip.level(GREEN);
      trace.buzzer += chip.level(BUZZER);
      await clock.advance(10);
    }
    return trace;
  }

  it('plays five patterns that differ from each other, each ending with every output off', async () => {
    const traces = new Map<IndicatorPattern, string>();
    for (const p of PATTERNS) {
      const t = await record(p);
      expect(t.red + t.green + t.buzzer, p).toContain('1');
      expect([chip.level(RED), chip.level(GREEN), chip.level(BUZZER)], p).toEqual([0, 0, 0]);
      expect(indicator.playing).toBeNull();
      traces.set(p, JSON.stringify(t));
    }
    expect(new Set(traces.values()).size).toBe(PATTERNS.length);
    expect(PATTERNS.sort()).toEqual(['denied', 'fault', 'granted', 'spoof', 'unknown']);
  });

  it('shows a grant in green only and a denial in red only, with different beeps', async () => {
    const granted = await record('granted');
    const denied = await record('denied');
    expect(granted.red).not.toContain('1');
    expect(granted.green.startsWith('1'.repeat(150) + '0')).toBe(true);
    expect(denied.green).not.toContain('1');
    expect(denied.buzzer.match(/1+/g)).toHaveLength(2);
    expect(granted.buzzer.match(/1+/g)).toHaveLength(1);
  });

  it('counts each pattern played, and a new pattern cuts the one playing', async () => {
    indicator.play('spoof');
    await clock.advance(150);
    indicator.play('granted');
    expect([chip.level(RED), chip.level(GREEN)]).toEqual([0, 1]);
    await clock.advance(5000);
    expect(chip.level(RED)).toBe(0);
    expect(indicator.stats().played).toMatchObject({ spoof: 1, granted: 1 });
  });

  it('keeps working without a buzzer and counts an output it cannot drive', () => {
    const broken = { write: () => { throw new Error('EIO'); }, read: () => 0 as const, close: () => undefined };
    const i = new Indicator({ red: broken }, clock);
    i.play('denied');
    expect(i.stats().writeErrors).toBeGreaterThan(0);
  });
});
