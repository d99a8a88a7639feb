import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { SitegateError } from '../../src/core/errors.js';
import { IdCardReader, type IdCardCredential } from '../../src/gate/hw/idcard-reader.js';
import { openSerialSamLink } from '../../src/gate/hw/idcard-serial.js';
import { IdCardSim, sampleCard } from '../../src/gate/hw/sim/idcard-sim.js';

/** A socat pty pair; ready when it says so and both links exist. */
async function startSocat(a: string, b: string): Promise<ChildProcess> {
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await waitFor(() => err.includes('starting data transfer loop') && existsSync(a) && existsSync(b), 5000, () => `socat not ready: ${err}`);
  return child;
}

async function stopSocat(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Waits (bounded) for a condition that real I/O makes true; never asserts a duration. */
async function waitFor(cond: () => boolean, maxMs: number, what: () => string = () => 'condition'): Promise<void> {
  const end = Date.now() + maxMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('ID card reader over a real socat pty pair', () => {
  let dir: string;
  let A: string;
  let B: string;
  const socats: ChildProcess[] = [];
  let sim: IdCardSim;
  let reader: IdCardReader | null = null;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'idcard-pty-'));
    A = join(dir, 'usb-SAM-reader-if00'); // stands for /dev/serial/by-id/...
    B = join(dir, 'sam-side');
  });

  afterEach(async () => {
    await reader?.stop();
    reader = null;
    await sim?.closeSerial();
    for (const s of socats.splice(0)) await stopSocat(s);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function watch(r: IdCardReader) {
    const ev = { creds: [] as IdCardCredential[], faults: [] as SitegateError[], recovered: 0 };
    r.on('credential', (c) => ev.creds.push(c));
    r.on('fault', (e) => ev.faults.push(e));
    r.on('recovered', () => ev.recovered++);
    return ev;
  }

  it('reads a card paced at 115200 baud and reports it once while it is held', async () => {
    socats.push(await startSocat(A, B));
    sim = new IdCardSim(systemClock);
    await sim.openSerial(B);
    sim.insert(sampleCard());
    reader = new IdCardReader(systemClock, { path: A, pollMs: 20, heartbeatMs: 1000 });
    const ev = watch(reader);
    reader.start();
    await waitFor(() => ev.creds.length > 0, 10_000, () => 'a credential');
    expect(ev.creds[0]).toMatchObject({ kind: 'idcard', number: '11010519491231002X', card: { name: '张三', validTo: null } });
    expect(ev.creds[0].photo.length).toBe(1024);
    const reads = sim.stats().commands.read;
    await waitFor(() => sim.stats().commands.read >= reads + 3, 10_000, () => 'three more reads');
    expect(ev.creds).toHaveLength(1);
    expect(reader.health()).toMatchObject({ state: 'ok', samId: '05.01-20101010-0012345678-1234567890', faults: 0 });
    expect(ev.faults).toEqual([]);
  });

  it('gets through a bad checksum, garbage and a truncated reply on the wire, then reads the card', async () => {
    socats.push(await startSocat(A, B));
    sim = new IdCardSim(systemClock);
    await sim.openSerial(B);
    sim.insert(sampleCard());
    sim.inject({ kind: 'bad_checksum', command: 'find' });
    sim.inject({ kind: 'garbage', command: 'select' });
    sim.inject({ kind: 'truncate', command: 'read' });
    reader = new IdCardReader(systemClock, { path: A, pollMs: 20, faultAfter: 3, readTimeoutMs: 400 });
    const ev = watch(reader);
    reader.start();
    await waitFor(() => ev.creds.length > 0, 10_000, () => 'a credential');
    expect(ev.faults).toEqual([]);
  });

  it('notices by heartbeat a simulator that vanished mid-frame, and re-opens when it comes back', async () => {
    socats.push(await startSocat(A, B));
    sim = new IdCardSim(systemClock);
    await sim.openSerial(B);
    reader = new IdCardReader(systemClock, { path: A, pollMs: 20, heartbeatMs: 200, replyTimeoutMs: 200, readTimeoutMs: 400, reopenMs: 100 });
    const ev = watch(reader);
    reader.start();
    await waitFor(() => reader!.health().state === 'ok', 5000, () => 'state ok');
    sim.insert(sampleCard());
    sim.inject({ kind: 'vanish', command: 'read' }); // half the read reply, then the sim closes its end
    await waitFor(() => ev.faults.length > 0, 10_000, () => 'a fault');
    expect(ev.faults.map((f) => f.code)).toEqual(['idcard_silent']);
    expect(ev.creds).toEqual([]);
    expect(reader.health().state).toBe('fault');
    await sim.openSerial(B);
    await waitFor(() => ev.recovered > 0, 10_000, () => 'recovery');
    await waitFor(() => ev.creds.length > 0, 10_000, () => 'a credential after recovery');
    expect(ev.faults).toHaveLength(1);
    expect(reader.health()).toMatchObject({ state: 'ok', faults: 1 });
  });

  it('notices an unplugged reader on its next write and finds it again through the symlink at its new device', async () => {
    const first = await startSocat(A, B);
    socats.push(first);
    const firstDevice = realpathSync(A);
    sim = new IdCardSim(systemClock);
    await sim.openSerial(B);
    reader = new IdCardReader(systemClock, { path: A, pollMs: 20, heartbeatMs: 200, reopenMs: 100 });
    const ev = watch(reader);
    reader.start();
    await waitFor(() => reader!.health().state === 'ok', 5000, () => 'state ok');

    await sim.closeSerial();
    await stopSocat(first); // the USB reader is pulled: both device nodes and the symlink go away
    await waitFor(() => ev.faults.length > 0, 10_000, () => 'a fault');
    // the write fails (EIO) and serialport closes the port as disconnected
    expect(['idcard_io', 'idcard_disconnected']).toContain(ev.faults[0].code);

    // something else takes the old pty numbers, so the reader comes back under a new device name
    socats.push(await startSocat(join(dir, 'other-a'), join(dir, 'other-b')));
    socats.push(await startSocat(A, B));
    expect(realpathSync(A)).not.toBe(firstDevice);
    await sim.openSerial(B);
    sim.insert(sampleCard());
    await waitFor(() => ev.recovered > 0 && ev.creds.length > 0, 10_000, () => 'recovery and a credential');
    expect(ev.faults).toHaveLength(1);
  });

  it('self-tests by asking the SAM id over the port, and says what failed when the reader is absent', async () => {
    socats.push(await startSocat(A, B));
    sim = new IdCardSim(systemClock);
    await sim.openSerial(B);
    const r = new IdCardReader(systemClock, { path: A });
    expect(await r.selftest()).toEqual({ ok: true, detail: 'SAM 05.01-20101010-0012345678-1234567890' });
    const absent = new IdCardReader(systemClock, { path: join(dir, 'no-such-reader') });
    const st = await absent.selftest();
    expect(st.ok).toBe(false);
    expect(st.detail).toMatch(/no-such-reader is not there/);
  });

  it('refuses a second open of the same port with a clear error', async () => {
    socats.push(await startSocat(A, B));
    const link = await openSerialSamLink(A);
    try {
      await expect(openSerialSamLink(A)).rejects.toMatchObject({ code: 'idcard_open_failed', message: expect.stringMatching(/opening ID card reader/) });
    } finally {
      await link.close();
    }
    await expect(link.write(Buffer.from([1]))).rejects.toMatchObject({ code: 'idcard_io' });
  });
});
