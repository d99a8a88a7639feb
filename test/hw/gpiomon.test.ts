import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import type { SitegateError } from '../../src/core/errors.js';
import {
  gpiomonArgs,
  parseGpiodetect,
  parseGpiofind,
  parseGpiomonLine,
  parseGpiomonVersion,
} from '../../src/gate/hw/gpiomon.js';
import { GpiomonEdgeSource } from '../../src/gate/hw/gpiomon-source.js';
import { encodeWiegand26, type WiegandFrame } from '../../src/gate/hw/wiegand.js';
import { WiegandReader } from '../../src/gate/hw/wiegand-reader.js';

const FIX = join(import.meta.dirname, 'fixtures');
const CHIP = 'pinctrl-bcm2711';
const V1 = { major: 1, minor: 6, patch: 3 };
const V2 = { major: 2, minor: 1, patch: 3 };

/** Falling edges of a 26-bit frame as gpiomon prints them, 2 ms apart from t0 (seconds). */
function frameLines(version: 1 | 2, facility: number, card: number, t0 = 1234): string[] {
  return encodeWiegand26(facility, card).map((bit, i) => {
    const ns = BigInt(t0) * 1_000_000_000n + BigInt(i) * 2_000_000n;
    const sec = ns / 1_000_000_000n;
    const nsec = ns % 1_000_000_000n;
    const offset = bit === 0 ? 5 : 6;
    return version === 1
      ? `0 ${offset} ${sec} ${nsec}`
      : `2 ${offset} ${sec}.${nsec.toString().padStart(9, '0')} ${bit === 0 ? 'WIEGAND_D0' : 'WIEGAND_D1'}`;
  });
}

describe('gpiomon output and options, both libgpiod generations', () => {
  it('reads the version banner of 1.6 and 2.x', () => {
    expect(parseGpiomonVersion('gpiomon (libgpiod) v1.6.3\nCopyright (C) 2017-2018 Bartosz Golaszewski')).toEqual(V1);
    expect(parseGpiomonVersion('gpiomon (libgpiod) v2.1\n')).toEqual({ major: 2, minor: 1, patch: 0 });
    expect(parseGpiomonVersion('bash: gpiomon: command not found')).toBeNull();
  });

  it('builds the 1.6 argv (label as chip, offsets, line-buffered) and the 2.x argv (chip name, --edges, monotonic clock)', () => {
    expect(gpiomonArgs(V1, { chip: CHIP, lines: [5, 6] })).toEqual(['--falling-edge', '--line-buffered', '--format=%e %o %s %n', CHIP, '5', '6']);
    expect(gpiomonArgs(V1, { chip: CHIP, lines: [5], activeLow: true, edge: 'both' })).toEqual(['--active-low', '--line-buffered', '--format=%e %o %s %n', CHIP, '5']);
    expect(() => gpiomonArgs(V1, { chip: CHIP, lines: ['WIEGAND_D0'] })).toThrow(TypeError);
    expect(gpiomonArgs(V2, { chip: 'gpiochip0', lines: [5, 'WIEGAND_D1'] })).toEqual([
      '--edges=falling', '--event-clock=monotonic', '--format=%e %o %S %l', '--chip=gpiochip0', '5', 'WIEGAND_D1',
    ]);
  });

  it('parses event lines of each format and rejects everything else', () => {
    expect(parseGpiomonLine(V1, '0 5 1234 5000')).toEqual({ edge: 'falling', offset: 5, timestampNs: 1_234_000_005_000n });
    expect(parseGpiomonLine(V1, '1 6 7 999999999\r')).toEqual({ edge: 'rising', offset: 6, timestampNs: 7_999_999_999n });
    expect(parseGpiomonLine(V2, '2 5 1234.000005000 WIEGAND_D0')).toEqual({ edge: 'falling', offset: 5, timestampNs: 1_234_000_005_000n, name: 'WIEGAND_D0' });
    expect(parseGpiomonLine(V2, '1 6 1.000000001 unnamed')).toMatchObject({ edge: 'rising', offset: 6, timestampNs: 1_000_000_001n });
    for (const bad of ['', 'event:  RISING EDGE offset: 5 timestamp: [1.2]', '2 5 1234 5000', '0 5 1234.000005000 x', '0 5 1234 1234567890', '9 5 1 1']) {
      expect(parseGpiomonLine(V1, bad)).toBeNull();
    }
    expect(parseGpiomonLine(V2, '2 5 1234.5 x')).toBeNull();
    expect(parseGpiomonLine(V2, '3 5 1234.000005000 x')).toBeNull();
  });

  it('parses gpiodetect and gpiofind output', () => {
    expect(parseGpiodetect('gpiochip0 [pinctrl-bcm2711] (58 lines)\ngpiochip1 [raspberrypi-exp-gpio] (8 lines)\n')).toEqual([
      { name: 'gpiochip0', label: 'pinctrl-bcm2711', lines: 58 },
      { name: 'gpiochip1', label: 'raspberrypi-exp-gpio', lines: 8 },
    ]);
    expect(parseGpiofind('gpiochip0 5\n')).toEqual({ chip: 'gpiochip0', offset: 5 });
    expect(parseGpiofind('')).toBeNull();
  });

  it("the real gpiomon 1.6.3 here accepts the argv we build: it fails to find the chip, not on its options", () => {
    const version = spawnSync('gpiomon', ['--version'], { encoding: 'utf8' });
    const v = parseGpiomonVersion(version.stdout);
    expect(v).toEqual(V1);
    const r = spawnSync('gpiomon', gpiomonArgs(v!, { chip: CHIP, lines: [5, 6] }), { encoding: 'utf8', timeout: 10_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).not.toMatch(/unrecognized|invalid|unknown|try gpiomon --help|Usage/i);
    expect(r.stderr).toMatch(/No such file or directory|cannot find|error opening|unable to/i);
  });
});

describe('gpiomon edge source with fake gpiomon programs', () => {
  let dir: string;
  let clock: ManualClock;
  let source: GpiomonEdgeSource | null;
  let faults: SitegateError[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gpiomon-'));
    clock = new ManualClock();
    source = null;
    faults = [];
  });

  afterEach(() => {
    source?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function setup(version: 1 | 2, lines: string[], opts: { exit?: boolean; names?: boolean } = {}) {
    const events = join(dir, 'events');
    const argvFile = join(dir, 'argv');
    writeFileSync(events, lines.map((l) => l + '\n').join(''));
    writeFileSync(argvFile, '');
    const env = { ...process.env, FAKE_GPIOMON_EVENTS: events, FAKE_GPIOMON_ARGV: argvFile, FAKE_GPIOMON_EXIT: opts.exit ? '1' : '' };
    source = new GpiomonEdgeSource({
      d0: opts.names ? { chip: CHIP, name: 'WIEGAND_D0' } : { chip: CHIP, offset: 5 },
      d1: opts.names ? { chip: CHIP, name: 'WIEGAND_D1' } : { chip: CHIP, offset: 6 },
      clock,
      commands: {
        gpiomon: join(FIX, `fake-gpiomon-v${version}.sh`),
        gpiodetect: join(FIX, 'fake-gpiodetect.sh'),
        gpiofind: join(FIX, 'fake-gpiofind.sh'),
      },
      env,
      onFault: (e) => faults.push(e),
    });
    const reader = new WiegandReader(source, clock);
    const frames: WiegandFrame[] = [];
    reader.on('frame', (f) => frames.push(f));
    const runs = () => readFileSync(argvFile, 'utf8').split('--\n').filter(Boolean).map((r) => r.trimEnd().split('\n'));
    return { reader, frames, runs };
  }

  it('libgpiod 1.6: line names resolved with gpiofind, a frame decoded from its kernel timestamps, garbage counted', async () => {
    const { reader, frames, runs } = setup(1, ['garbage line', ...frameLines(1, 42, 31337), '1 5 1234 100', '0 9 1234 200'], { names: true });
    reader.start();
    await vi.waitFor(() => expect(source!.stats().pulses).toBe(26), { timeout: 5000 });
    await clock.advance(25);
    expect(frames).toEqual([expect.objectContaining({ bits: 26, facility: 42, card: 31337, startNs: 1_234_000_000_000n })]);
    expect(source!.stats()).toMatchObject({ starts: 1, parseErrors: 1, ignored: 2, version: '1.6.3', failures: 0 });
    expect(runs()).toEqual([['--falling-edge', '--line-buffered', '--format=%e %o %s %n', CHIP, '5', '6']]);
    reader.stop();
  });

  it('libgpiod 2.x: chip label resolved to its gpiochip name, names passed through and matched by %l', async () => {
    const { reader, frames, runs } = setup(2, frameLines(2, 7, 4242), { names: true });
    reader.start();
    await vi.waitFor(() => expect(source!.stats().pulses).toBe(26), { timeout: 5000 });
    await clock.advance(25);
    expect(frames.map((f) => [f.facility, f.card])).toEqual([[7, 4242]]);
    expect(runs()).toEqual([['--edges=falling', '--event-clock=monotonic', '--format=%e %o %S %l', '--chip=gpiochip0', 'WIEGAND_D0', 'WIEGAND_D1']]);
    reader.stop();
  });

  it('restarts a gpiomon that died, with doubling back-off on the clock, and reports each death', async () => {
    const { reader, runs } = setup(2, frameLines(2, 1, 1), { exit: true });
    reader.start();
    await vi.waitFor(() => expect(source!.stats().failures).toBe(1), { timeout: 5000 });
    expect(faults[0]).toMatchObject({ code: 'gpiomon_exited' });
    expect(faults[0].message).toContain('No such device');
    await clock.advance(199);
    expect(source!.stats().starts).toBe(1);
    await clock.advance(1);
    await vi.waitFor(() => expect(source!.stats().failures).toBe(2), { timeout: 5000 });
    await clock.advance(399);
    expect(source!.stats().starts).toBe(2);
    await clock.advance(1);
    await vi.waitFor(() => expect(source!.stats().starts).toBe(3), { timeout: 5000 });
    await vi.waitFor(() => expect(runs()).toHaveLength(3), { timeout: 5000 });
    reader.stop();
  });

  it('a missing gpiomon is a fault that is retried, never a throw', async () => {
    source = new GpiomonEdgeSource({
      d0: { chip: CHIP, offset: 5 },
      d1: { chip: CHIP, offset: 6 },
      clock,
      commands: { gpiomon: join(dir, 'no-such-gpiomon') },
      onFault: (e) => faults.push(e),
    });
    source.start(() => undefined);
    await vi.waitFor(() => expect(faults).toHaveLength(1), { timeout: 5000 });
    expect(faults[0].code).toBe('gpiomon_tool_failed');
    await clock.advance(200);
    await vi.waitFor(() => expect(faults).toHaveLength(2), { timeout: 5000 });
  });

  it('refuses D0 and D1 on different chips at start', () => {
    source = new GpiomonEdgeSource({ d0: { chip: CHIP, offset: 5 }, d1: { chip: 'pinctrl-rp1', offset: 6 }, clock });
    expect(() => source!.start(() => undefined)).toThrow(expect.objectContaining({ code: 'wiegand_lines_split' }));
  });
});
