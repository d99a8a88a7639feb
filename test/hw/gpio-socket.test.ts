import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import type { EdgeEvent } from '../../src/gate/hw/gpio.js';
import { GpioSocketClient, LineSplitter } from '../../src/gate/hw/gpio-socket.js';
import { Relay, relaySafeLevel } from '../../src/gate/hw/relay.js';
import { SimGpioChip } from '../../src/gate/hw/sim/gpio-chip.js';
import { GpioSocketServer } from '../../src/gate/hw/sim/gpio-socket-server.js';

const CHIP = 'pinctrl-bcm2711';
const RELAY_IN = 17;
const SENSOR = 22;
const FIXTURES = join(import.meta.dirname, 'fixtures');

describe('GPIO over a unix socket', () => {
  let dir: string;
  let path: string;
  let clock: ManualClock;
  let chip: SimGpioChip;
  let server: GpioSocketServer;
  const clients: GpioSocketClient[] = [];
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gpio-socket-'));
    path = join(dir, 'gpio.sock');
    clock = new ManualClock();
    chip = new SimGpioChip(clock, { label: CHIP, lines: 58, names: { PASSAGE_L1: SENSOR } });
    server = new GpioSocketServer({ path, chips: [chip], releaseLevels: { [CHIP]: { [RELAY_IN]: 0 } } });
    await server.start();
  });

  afterEach(async () => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    for (const c of clients.splice(0)) c.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function client(): Promise<GpioSocketClient> {
    const c = new GpioSocketClient({ path });
    clients.push(c);
    await c.start();
    return c;
  }

  it('drives outputs and delivers timestamped input edges, line names resolved from the server', async () => {
    const c = await client();
    const out = c.output({ chip: CHIP, offset: RELAY_IN }, 0);
    out.write(1);
    await c.sync();
    expect(chip.level(RELAY_IN)).toBe(1);
    expect(await c.pulses(CHIP, RELAY_IN)).toBe(1);

    const edges: EdgeEvent[] = [];
    const sensor = c.input({ chip: CHIP, name: 'PASSAGE_L1' }, { edge: 'rising' });
    sensor.onEdge((e) => edges.push(e));
    await c.sync();
    chip.inject(SENSOR, 1, 123_456_789_012n);
    chip.inject(SENSOR, 0, 123_456_900_000n);
    await vi.waitFor(() => expect(c.stats().edges).toBe(2), { timeout: 2000 });
    expect(edges).toEqual([{ value: 1, timestampNs: 123_456_789_012n }]);
    expect(sensor.read()).toBe(0);

    out.close();
    await c.sync();
    expect(chip.level(RELAY_IN)).toBe(0);
    expect(chip.state.lines[RELAY_IN].use).toBe('free');
  });

  it('refuses unknown chips and names at once, and a line another client holds at sync()', async () => {
    const a = await client();
    const b = await client();
    expect(() => a.output({ chip: 'pinctrl-rp1', offset: 1 }, 0)).toThrow(expect.objectContaining({ code: 'gpio_chip_not_found' }));
    expect(() => a.input({ chip: CHIP, name: 'NOPE' }, { edge: 'both' })).toThrow(expect.objectContaining({ code: 'gpio_line_name_unknown' }));
    expect(() => a.output({ chip: CHIP, offset: 58 }, 0)).toThrow(expect.objectContaining({ code: 'gpio_offset_out_of_range' }));
    a.output({ chip: CHIP, offset: RELAY_IN }, 0);
    await a.sync();
    const stolen = b.output({ chip: CHIP, offset: RELAY_IN }, 0);
    await expect(b.sync()).rejects.toMatchObject({ code: 'gpio_line_busy' });
    expect(() => stolen.write(1)).toThrow(expect.objectContaining({ code: 'gpio_line_busy' }));
    expect(b.stats().refused).toBe(1);
  });

  it('counts garbage and over-long request lines without dropping the chip or other clients', async () => {
    const c = await client();
    const raw = createConnection(path);
    await new Promise((r) => raw.once('connect', r));
    raw.write('not json\n{"op":"write"}\n' + 'x'.repeat(70_000) + '\n{"id":1,"op":"ping"}\n');
    const reply = await new Promise<string>((resolve) => raw.once('data', (d) => resolve(d.toString())));
    raw.destroy();
    expect(JSON.parse(reply.split('\n')[0])).toEqual({ id: 1, ok: true });
    expect(server.stats().parseErrors).toBe(3);
    await expect(c.sync()).resolves.toBeUndefined();
  });

  it('a client killed mid-pulse leaves its pulse counted on the server, which serves the next client', async () => {
    const child = spawn(process.execPath, ['--experimental-transform-types', '--no-warnings', '--import', join(import.meta.dirname, '..', 'fixtures', 'ts-import.ts'), join(FIXTURES, 'gpio-socket-pulse.ts'), path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (err += d));
    await vi.waitFor(() => expect(out, err).toContain('pulsing'), { timeout: 20_000, interval: 50 });
    expect(chip.level(RELAY_IN)).toBe(1);
    expect(chip.pulses(RELAY_IN)).toBe(1);

    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    await vi.waitFor(() => expect(server.stats().clients).toBe(0), { timeout: 2000 });
    // The dead client never released its relay; the pin fell to its pull-down default.
    expect(chip.pulses(RELAY_IN)).toBe(1);
    expect(chip.level(RELAY_IN)).toBe(0);
    expect(server.stats()).toMatchObject({ connections: 1, abandonedOutputs: 1 });

    const next = await client();
    const relay = new Relay(next.output({ chip: CHIP, offset: RELAY_IN }, relaySafeLevel()), clock, { name: 'L1.in' });
    relay.start();
    expect(relay.pulse(500).ok).toBe(true);
    await next.sync();
    expect(chip.level(RELAY_IN)).toBe(1);
    expect(chip.pulses(RELAY_IN)).toBe(2);
    expect(await next.pulses(CHIP, RELAY_IN)).toBe(2);
  }, 30_000);

  it('a pin without a release default keeps the level the dead client left', async () => {
    const c = await client();
    c.output({ chip: CHIP, offset: 4 }, 0).write(1);
    await c.sync();
    c.stop();
    await vi.waitFor(() => expect(server.stats().clients).toBe(0), { timeout: 2000 });
    expect(chip.level(4)).toBe(1);
    expect(chip.state.lines[4].use).toBe('free');
  });

  it('a write after the server went away fails with gpio_socket_closed', async () => {
    const c = await client();
    const out = c.output({ chip: CHIP, offset: 4 }, 0);
    await c.sync();
    await server.stop();
    await vi.waitFor(() => expect(c.connected).toBe(false), { timeout: 2000 });
    expect(() => out.write(1)).toThrow(expect.objectContaining({ code: 'gpio_socket_closed' }));
    await server.start();
  });
});

describe('line splitter', () => {
  it('splits across chunks and skips an over-long line up to its newline', () => {
    const lines: string[] = [];
    let overflows = 0;
    const s = new LineSplitter((l) => lines.push(l), () => overflows++, 8);
    s.push('ab');
    s.push('c\nde');
    s.push('fghijklmnop');
    s.push('qr\nok\n');
    expect(lines).toEqual(['abc', 'ok']);
    expect(overflows).toBe(1);
  });
});
