import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { silentLogger } from '../../src/core/log.js';
import { systemClock } from '../../src/core/clock.js';
import { ControlServer } from '../../src/control/server.js';
import { gateConfigSchema, type GateConfig } from '../../src/config/gate-config.js';
import { runSelftest } from '../../src/gate/gate-selftest.js';
import { SimGpioChip } from '../../src/gate/hw/sim/gpio-chip.js';
import { IdCardSim } from '../../src/gate/hw/sim/idcard-sim.js';
import { Pn532Sim } from '../../src/gate/hw/sim/pn532-sim.js';
import { CHIP, LANE2, PINS } from './harness.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'gate-selftest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(over: Record<string, unknown> = {}): GateConfig {
  const line = (offset: number) => ({ chip: CHIP, offset });
  return gateConfigSchema.parse({
    siteId: 'SITE01',
    gateId: 'GATE-T1',
    stateDir: join(dir, 'state'),
    mqtt: { url: 'mqtt://127.0.0.1:9', passwordFile: join(dir, 'pw') },
    token: { tokenLabel: 't', keyLabel: 'k', pinFile: join(dir, 'pin') },
    roster: { file: join(dir, 'roster.json') },
    gpio: { driver: 'socket', socket: join(dir, 'gpio.sock') },
    fireAlarm: { input: line(PINS.fire) },
    lanes: [
      { name: 'L1', relays: { in: line(PINS.relayIn), out: line(PINS.relayOut) }, passageSensor: line(PINS.passage), indicator: { red: line(PINS.red), green: line(PINS.green) } },
      { name: 'L2', failState: 'free', relays: { in: line(LANE2.relayIn) }, passageSensor: line(LANE2.passage) },
    ],
    readers: [
      { kind: 'wiegand', lane: 'L1', direction: 'in', d0: line(PINS.d0), d1: line(PINS.d1) },
      { kind: 'pn532', lane: 'L1', direction: 'out' },
      { kind: 'idcard', lane: 'L2', direction: 'in', path: '/dev/serial/by-id/usb-SAM-if00-port0' },
    ],
    ...over,
  });
}

describe('runSelftest', () => {
  it('pulses every relay in turn, reads every input, asks each reader who it is: one result per device', async () => {
    const clock = new ManualClock();
    const chip = new SimGpioChip(clock, { label: CHIP, lines: 58, initial: { [PINS.d0]: 1, [PINS.d1]: 1 } });
    const pn532 = new Pn532Sim(clock);
    const sam = new IdCardSim(clock, { baud: null });
    const run = runSelftest({ config: config(), gpio: chip, clock, log: silentLogger(), i2cOpener: async () => pn532, samOpener: () => sam.openMemoryLink() });
    let results: Awaited<typeof run> | null = null;
    void run.then((r) => (results = r));
    await clock.runUntil(() => results !== null, 10_000);
    const r = results!;
    expect(r.map((x) => `${x.ok ? 'PASS' : 'FAIL'} ${x.device}`)).toEqual([
      'PASS relay L1.in',
      'PASS relay L1.out',
      'PASS sensor L1',
      'PASS red L1',
      'PASS green L1',
      'PASS relay L2.in',
      'PASS sensor L2',
      'PASS fire alarm',
      'PASS reader L1.in (wiegand)',
      'PASS reader L1.out (pn532)',
      'PASS reader L2.in (idcard)',
    ]);
    expect(chip.pulses(PINS.relayIn)).toBe(1);
    expect(chip.pulses(PINS.relayOut)).toBe(1);
    expect(chip.pulses(PINS.red)).toBe(1);
    expect(r.find((x) => x.device.includes('pn532'))!.detail).toContain('firmware 1.6');
    expect(r.find((x) => x.device.includes('idcard'))!.detail).toContain('SAM 05.01-20101010-0012345678-1234567890');
    // L2's fail state is free: its relay is held energised to lock, and was released for the pulse
    expect(chip.writesTo(LANE2.relayIn).map((w) => w.level)).toContain(0);
  });

  it('fails a silent PN532, an unplugged ID card reader, a shorted Wiegand line and a fire alarm in alarm', async () => {
    const clock = new ManualClock();
    const chip = new SimGpioChip(clock, { label: CHIP, lines: 58, initial: { [PINS.d0]: 1, [PINS.d1]: 0, [PINS.fire]: 1 } });
    const pn532 = new Pn532Sim(clock);
    pn532.setSilent(true);
    const sam = new IdCardSim(clock, { baud: null });
    sam.unplug();
    const run = runSelftest({ config: config(), gpio: chip, clock, log: silentLogger(), i2cOpener: async () => pn532, samOpener: () => sam.openMemoryLink() });
    let results: Awaited<typeof run> | null = null;
    void run.then((r) => (results = r));
    await clock.runUntil(() => results !== null, 30_000);
    const failed = results!.filter((x) => !x.ok).map((x) => x.device);
    expect(failed).toEqual(['fire alarm', 'reader L1.in (wiegand)', 'reader L1.out (pn532)', 'reader L2.in (idcard)']);
    expect(results!.find((x) => x.device === 'fire alarm')!.detail).toContain('ALARM');
  });
});

describe('sitegate selftest (the command)', () => {
  let server: ControlServer;
  const socket = join(dir, 'gate.sock');
  const file = join(dir, 'gate.yaml');

  beforeAll(async () => {
    writeFileSync(file, JSON.stringify(config()));
    server = new ControlServer({ path: socket, handlers: { ping: () => ({ daemon: 'gate' }) }, clock: systemClock, log: silentLogger(), group: null });
    await server.start();
  });
  afterAll(() => server.stop());

  function selftest(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve) => {
      const c = spawn(process.execPath, [CLI, 'selftest', ...args], { env: { ...process.env, SITEGATE_CONTROL_SOCKET: socket }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (err += d));
      c.on('exit', (code) => resolve({ code, out, err }));
    });
  }

  it('refuses to touch the hardware while the daemon answers on its control socket (exit 2)', async () => {
    const r = await selftest('-c', file, '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toMatchObject({ error: { code: 'daemon_running' } });
    expect(r.err).toContain('stop it first');
  });

  it('names the bad key of an invalid config (exit 2)', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'siteId: SITE01\ngateId: "no spaces allowed"\n');
    const r = await selftest('-c', bad);
    expect(r.code).toBe(2);
    expect(r.err).toContain('gateId');
  });
});
