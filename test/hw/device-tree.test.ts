import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gateConfigSchema, type GateConfig } from '../../src/config/gate-config.js';
import { loadConfigFile } from '../../src/config/load.js';
import { DEMO_PINS } from '../../src/demo/site.js';

const DT = join(import.meta.dirname, '../../device-tree');
const EXAMPLE = join(import.meta.dirname, '../../src/config/examples/gate.yaml');
const overlays = readdirSync(DT).filter((f) => f.endsWith('.dts')).sort();
const out = mkdtempSync(join(tmpdir(), 'dtbo-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Line name the overlay must give each GPIO the example config uses. */
function expectedNames(c: GateConfig): Map<number, string> {
  const m = new Map<number, string>();
  const put = (spec: { offset?: number } | undefined, name: string) => {
    if (spec?.offset === undefined) throw new Error(`example config line ${name} has no offset`);
    m.set(spec.offset, name);
  };
  for (const l of c.lanes) {
    put(l.relays.in, `${l.name}_RELAY_IN`);
    put(l.relays.out, `${l.name}_RELAY_OUT`);
    put(l.passageSensor, `${l.name}_PASSAGE`);
    if (l.indicator) {
      put(l.indicator.red, `${l.name}_LED_RED`);
      put(l.indicator.green, `${l.name}_LED_GREEN`);
      put(l.indicator.buzzer, `${l.name}_BUZZER`);
    }
  }
  if (c.fireAlarm) put(c.fireAlarm.input, 'FIRE_ALARM');
  for (const r of c.readers) {
    if (r.kind !== 'wiegand') continue;
    put(r.d0, 'WIEGAND_D0');
    put(r.d1, 'WIEGAND_D1');
  }
  return m;
}

function lineNames(dts: string): string[] {
  const m = /gpio-line-names\s*=([^;]*);/.exec(dts);
  if (!m) throw new Error('no gpio-line-names');
  return [...m[1].matchAll(/"([^"]*)"/g)].map((x) => x[1]);
}

/** GPIO numbers in the pin groups that set the boot defaults (both bindings). */
function groupedPins(dts: string): number[] {
  const brcm = [...dts.matchAll(/sitegate_(?:outputs|inputs_down|inputs_up)\s*{[^}]*brcm,pins\s*=\s*<([^>]*)>/g)].flatMap((m) => m[1].trim().split(/\s+/).map(Number));
  const generic = [...dts.matchAll(/sitegate_(?:outputs|inputs_down|inputs_up)\s*{[^}]*pins\s*=\s*([^;]*);/g)].flatMap((m) => [...m[1].matchAll(/"gpio(\d+)"/g)].map((g) => Number(g[1])));
  return [...brcm, ...generic].sort((a, b) => a - b);
}

describe('device-tree overlays', () => {
  const config = loadConfigFile(gateConfigSchema, EXAMPLE);
  const expected = expectedNames(config);

  it('there is one for the Pi 4 / CM4 and one for the Pi 5', () => {
    expect(overlays).toEqual(['sitegate-bcm2711.dts', 'sitegate-rp1.dts']);
  });

  it.each(overlays)('%s compiles with dtc -@', (f) => {
    const dtbo = join(out, f.replace(/\.dts$/, '.dtbo'));
    const r = spawnSync('dtc', ['-@', '-I', 'dts', '-O', 'dtb', '-o', dtbo, join(DT, f)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(statSync(dtbo).size).toBeGreaterThan(500);
    // The compiled overlay carries the line names and the fixups for the base tree's labels.
    const back = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', dtbo], { encoding: 'utf8' }).stdout;
    expect(back).toContain('L1_RELAY_IN');
    expect(back).toMatch(/__fixups__/);
  });

  it.each(overlays)('%s names exactly the GPIO lines of the example config, at the same offsets', (f) => {
    const names = lineNames(readFileSync(join(DT, f), 'utf8'));
    expect(names.length).toBe(f.includes('bcm2711') ? 58 : 54);
    const ours = new Map(names.map((n, i) => [i, n] as const).filter(([, n]) => /^(L\d+_|FIRE_|WIEGAND_)/.test(n)));
    expect(ours).toEqual(expected);
  });

  it.each(overlays)('%s sets a boot default (pull) on every pin the config uses, and on no other', (f) => {
    expect(groupedPins(readFileSync(join(DT, f), 'utf8'))).toEqual([...expected.keys()].sort((a, b) => a - b));
  });

  it('the PN532 sits at 0x24 on I2C1 and the SAM UART is on GPIO 8/9 in both overlays', () => {
    for (const f of overlays) {
      const dts = readFileSync(join(DT, f), 'utf8');
      expect(dts).toMatch(/target = <&i2c1>;[\s\S]*pn532@24[\s\S]*reg = <0x24>/);
      expect(lineNames(dts).slice(2, 4)).toEqual(['SDA1', 'SCL1']);
      expect(lineNames(dts).slice(8, 10)).toEqual(['SAM_TXD', 'SAM_RXD']);
    }
  });

  it('the demo pin map is the same map', () => {
    expect(expected.get(DEMO_PINS.relayIn)).toBe('L1_RELAY_IN');
    expect(expected.get(DEMO_PINS.relayOut)).toBe('L1_RELAY_OUT');
    expect(expected.get(DEMO_PINS.passage)).toBe('L1_PASSAGE');
    expect(expected.get(DEMO_PINS.fireAlarm)).toBe('FIRE_ALARM');
    expect(expected.get(DEMO_PINS.lane2.relayIn)).toBe('L2_RELAY_IN');
    expect(expected.get(DEMO_PINS.d0)).toBe('WIEGAND_D0');
  });
});
