import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { SimGpioChip } from '../../src/gate/hw/sim/gpio-chip.js';
import { GpioSocketServer } from '../../src/gate/hw/sim/gpio-socket-server.js';
import { IdCardSim } from '../../src/gate/hw/sim/idcard-sim.js';
import { CHIP, LANE2, PINS, startSocat, stopSocat } from './harness.js';

// `sitegate selftest` as a technician runs it, as its own process: GPIO lines from the simulated
// chip behind its socket (the chip counts the relay pulses here), the ID card reader on a real pty
// with the SAM simulator at the other end, and a PN532 on an I2C bus this machine does not have.
const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

describe.skipIf(!existsSync(CLI))('sitegate selftest on devices', () => {
  const dir = mkdtempSync(join(tmpdir(), 'selftest-cli-'));
  const chip = new SimGpioChip(systemClock, { label: CHIP, lines: 58, initial: { [PINS.d0]: 1, [PINS.d1]: 1 } });
  const server = new GpioSocketServer({ path: join(dir, 'gpio.sock'), chips: [chip] });
  const sam = new IdCardSim(systemClock, { baud: null });
  const readerLink = join(dir, 'reader');
  const samLink = join(dir, 'sam');
  let socat: ChildProcess | null = null;

  const line = (offset: number) => ({ chip: CHIP, offset });
  function writeConfig(name: string, readers: unknown[]): string {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify({
      siteId: 'SITE01',
      gateId: 'GATE-T1',
      stateDir: join(dir, 'state'),
      mqtt: { url: 'mqtt://127.0.0.1:9', passwordFile: join(dir, 'pw') },
      token: { tokenLabel: 't', keyLabel: 'k', pinFile: join(dir, 'pin') },
      roster: { file: join(dir, 'roster.json') },
      gpio: { driver: 'socket', socket: join(dir, 'gpio.sock') },
      lanes: [
        { name: 'L1', relays: { in: line(PINS.relayIn), out: line(PINS.relayOut) }, passageSensor: line(PINS.passage) },
        { name: 'L2', relays: { in: line(LANE2.relayIn) }, passageSensor: line(LANE2.passage) },
      ],
      readers,
    }));
    return file;
  }

  beforeAll(async () => {
    await server.start();
    socat = await startSocat(readerLink, samLink);
    await sam.openSerial(samLink);
  });
  afterAll(async () => {
    await sam.closeSerial();
    await stopSocat(socat);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function selftest(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
    return new Promise((resolve) => {
      const c = spawn(process.execPath, [CLI, 'selftest', ...args], {
        env: { ...process.env, SITEGATE_CONTROL_SOCKET: join(dir, 'no-daemon.sock') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (err += d));
      c.on('exit', (code) => resolve({ code, out, err }));
    });
  }

  it('passes every device and pulses each relay once (exit 0)', async () => {
    const file = writeConfig('ok.yaml', [
      { kind: 'wiegand', lane: 'L1', direction: 'in', d0: line(PINS.d0), d1: line(PINS.d1) },
      { kind: 'idcard', lane: 'L2', direction: 'in', path: readerLink, pollMs: 100, heartbeatMs: 1000 },
    ]);
    const r = await selftest('-c', file, '--pulse-ms', '50');
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/^PASS\s+relay L1\.in/m);
    expect(r.out).toMatch(/^PASS\s+reader L2\.in \(idcard\).*SAM/m);
    expect(r.out).toMatch(/devices passed/);
    for (const l of r.out.trim().split('\n')) expect(l.length).toBeLessThanOrEqual(80);
    expect(chip.pulses(PINS.relayIn)).toBe(1);
    expect(chip.pulses(PINS.relayOut)).toBe(1);
    expect(chip.pulses(LANE2.relayIn)).toBe(1);
  });

  it('fails the PN532 on a missing I2C bus with a line that says so (exit 1), and --json lists every device', async () => {
    const file = writeConfig('pn532.yaml', [{ kind: 'pn532', lane: 'L1', direction: 'out', i2cBus: 7 }]);
    const r = await selftest('-c', file, '--json', '--pulse-ms', '50');
    expect(r.code, r.err).toBe(1);
    const doc = JSON.parse(r.out) as { ok: boolean; results: { device: string; ok: boolean; detail: string }[] };
    expect(doc.ok).toBe(false);
    const pn = doc.results.find((x) => x.device.includes('pn532'))!;
    expect(pn.ok).toBe(false);
    expect(pn.detail).toMatch(/i2c-7/);
    expect(doc.results.filter((x) => x.device.startsWith('relay')).every((x) => x.ok)).toBe(true);
  });
});
