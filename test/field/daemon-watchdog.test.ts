import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../dist/core/clock.js';
import { credentialHmac } from '../../dist/core/credential.js';
import { controlRequest } from '../../dist/control/client.js';
import { statusViewSchema } from '../../dist/control/views.js';
import { IdCardSim } from '../../dist/gate/hw/sim/idcard-sim.js';
import { GATE, SITE, SitegateProcess, startFieldSite, type FieldSite } from './daemon-site.js';
import { NotifyListener, waitFor } from './helpers.js';

// The real daemons (`sitegate gate -c FILE`, `sitegate hub -c FILE` from dist/, the pinned Node
// 24) under a NOTIFY_SOCKET that socat listens on, as systemd would run them. WATCHDOG_USEC=600 ms
// asks for a ping every 300 ms; socat never answers systemd-notify's barrier, so the pings arrive
// about once a second. SITEGATE_TEST_BLOCK_ON_SIGNAL=4 makes SIGUSR2 block the event loop for 4 s
// (src/daemon/block-hook.ts).
const BLOCK_S = 4;
const dir = mkdtempSync('/tmp/fw-');
let site: FieldSite;
const listeners: NotifyListener[] = [];
const daemons: SitegateProcess[] = [];
let socat: ChildProcess | null = null;
const sam = new IdCardSim(systemClock, { baud: null });
const readerLink = join(dir, 'usb-Synjones_SAM_0001-if00-port0');
const samLink = join(dir, 'sam-side');

beforeAll(async () => {
  const siteKey = randomBytes(32);
  const rosterFile = join(dir, 'roster.json');
  writeFileSync(
    rosterFile,
    JSON.stringify({
      version: 1,
      siteId: SITE,
      siteKey: siteKey.toString('hex'),
      workers: [{ workerId: 'W1', name: '张伟', status: 'entered', idValidTo: null, credentials: [{ kind: 'wiegand', hmac: credentialHmac(siteKey, 'wiegand', '1377257') }] }],
    }),
  );
  site = await startFieldSite(join(dir, 'site'), { rosterFile });
  socat = await startSocat(readerLink, samLink);
  await sam.openSerial(samLink);
}, 60_000);

afterAll(async () => {
  for (const d of daemons) await d.stop('SIGKILL');
  for (const l of listeners) l.stop();
  await sam.closeSerial().catch(() => undefined);
  await stopSocat(socat);
  await site?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function startDaemon(kind: 'gate' | 'hub') {
  const listener = new NotifyListener(join(dir, `${kind}.notify`));
  listeners.push(listener);
  await listener.start();
  const socket = join(dir, `${kind}.sock`);
  const daemon = new SitegateProcess([kind, '-c', kind === 'gate' ? site.gateConfigPath : site.hubConfigPath], {
    ...process.env,
    NOTIFY_SOCKET: listener.path,
    WATCHDOG_USEC: '600000',
    SOFTHSM2_CONF: site.softhsmConf,
    SITEGATE_CONTROL_SOCKET: socket,
    SITEGATE_LOG_LEVEL: 'info',
    SITEGATE_TEST_BLOCK_ON_SIGNAL: String(BLOCK_S),
  });
  daemons.push(daemon);
  /** a control request; a daemon that died on the way is named with the end of its output */
  const ask = async (req: Parameters<typeof controlRequest>[1], timeoutMs = 10_000) => {
    try {
      return await controlRequest(socket, req, { timeoutMs });
    } catch (err) {
      await new Promise((r) => setTimeout(r, 200));
      if (!daemon.running) throw new Error(`sitegate ${kind} died:\n${daemon.log.slice(-2500)}`);
      throw err;
    }
  };
  const status = async () => {
    const r = await ask({ cmd: 'status' });
    if (!r.ok) throw new Error(`status refused: ${JSON.stringify(r)}`);
    return statusViewSchema.parse(r.result);
  };
  const pings = () => listener.count('WATCHDOG=1');
  /** at least two more pings arrive from now on */
  const pingsGoOn = async (what: string) => {
    const before = pings();
    await waitFor(() => pings() >= before + 2, 10_000, `pings after ${what}`);
  };
  return { listener, daemon, ask, status, pings, pingsGoOn };
}

/** SIGUSR2 blocks the loop for BLOCK_S seconds: no ping meanwhile (one already on its way at most), then they resume. */
async function blockAndResume(d: Awaited<ReturnType<typeof startDaemon>>): Promise<void> {
  const blocked = () => (d.daemon.log.match(/event loop blocked \(test hook\)/g) ?? []).length;
  const before = blocked();
  d.daemon.child.kill('SIGUSR2');
  await waitFor(() => blocked() > before, 10_000, 'the event loop to block');
  const atBlock = d.pings();
  await waitFor(() => d.daemon.said('event loop unblocked (test hook)'), (BLOCK_S + 10) * 1000, 'the event loop to unblock');
  // about BLOCK_S pings were due meanwhile
  expect(d.pings()).toBeLessThanOrEqual(atBlock + 1);
  await d.pingsGoOn('the block');
}

async function stopCleanly(d: Awaited<ReturnType<typeof startDaemon>>): Promise<void> {
  // systemd would SIGKILL it after TimeoutStopSec=30s
  expect(await d.daemon.stop('SIGTERM', 20_000)).toBe(0);
  await waitFor(() => d.listener.count('STOPPING=1') === 1, 10_000, 'STOPPING=1');
}

async function reloads(d: Awaited<ReturnType<typeof startDaemon>>): Promise<void> {
  const ready = d.listener.count('READY=1');
  d.daemon.child.kill('SIGHUP');
  await waitFor(() => d.listener.count('RELOADING=1') === 1 && d.listener.count('READY=1') > ready, 20_000, 'RELOADING=1 then READY=1');
  expect(d.listener.out.lastIndexOf('READY=1')).toBeGreaterThan(d.listener.out.indexOf('RELOADING=1'));
  expect(d.listener.out).toMatch(/MONOTONIC_USEC=\d+/);
}

describe('sitegate gate under systemd notification', () => {
  it('says READY=1 and pings through reader faults and a full journal, reloads on SIGHUP, stops pinging while its loop is blocked', async () => {
    site.writeGateConfig({
      readers: [
        { kind: 'idcard', lane: 'L2', direction: 'in', path: readerLink, pollMs: 50, heartbeatMs: 300 },
        // no /dev/i2c-250 here: a reader fault from the start
        { kind: 'pn532', lane: 'L2', direction: 'out', i2cBus: 250 },
      ],
      // a journal that fills after a few punches: the disk is "full"
      journal: { maxPageCount: 12 },
    });
    const d = await startDaemon('gate');
    await waitFor(() => d.listener.count('READY=1') >= 1 || !d.daemon.running, 90_000, 'READY=1');
    expect(d.daemon.running, d.daemon.log.slice(-3000)).toBe(true);
    expect(d.listener.out).toContain(`MAINPID=${d.daemon.child.pid}`);
    expect(d.listener.out).toMatch(/STATUS=.*GATE-F1/);
    await waitFor(() => d.pings() >= 2, 10_000, 'periodic pings');

    // the PN532 on a missing bus is a fault from the start; then the ID card reader is unplugged
    const readerFault = async (name: string) => (await d.status()).faults.some((f) => f.code === 'reader_fault' && f.message.startsWith(name));
    expect(await readerFault('L2.out')).toBe(true);
    await sam.closeSerial();
    await stopSocat(socat);
    socat = null;
    for (let i = 0; i < 100 && !(await readerFault('L2.in')); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await readerFault('L2.in')).toBe(true);
    await d.pingsGoOn('the reader faults');

    // manual opens until the journal refuses one: the disk is full
    let refused: { code: string } | null = null;
    for (let i = 0; i < 200 && !refused; i++) {
      const r = await d.ask({ cmd: 'open', args: { lane: i % 2 ? 'L2' : 'L1', direction: 'in', who: 'field-test' } }, 30_000);
      if (!r.ok && r.error.code !== 'lane_busy') refused = r.error;
    }
    expect(refused?.code).toBe('journal_disk_full');
    const v = await d.status();
    expect(v.health).not.toBe('ok');
    expect(v.faults.map((f) => f.code)).toEqual(expect.arrayContaining(['reader_fault', 'journal_disk_full']));
    await d.pingsGoOn('the full journal');
    await waitFor(() => /STATUS=[^\n]*journal_disk_full/.test(d.listener.out), 10_000, 'the full journal in STATUS=');

    await reloads(d);
    await blockAndResume(d);
    await stopCleanly(d);
    expect(d.daemon.log).toContain('"msg":"gate stopped"');
  }, 180_000);
});

describe('sitegate hub under systemd notification', () => {
  it('says READY=1, pings with its broker gone, reloads on SIGHUP, stops pinging while its loop is blocked', async () => {
    site.writeHubConfig();
    const d = await startDaemon('hub');
    await waitFor(() => d.listener.count('READY=1') >= 1 || !d.daemon.running, 60_000, 'READY=1');
    expect(d.daemon.running, d.daemon.log.slice(-3000)).toBe(true);
    expect(d.listener.out).toContain(`MAINPID=${d.daemon.child.pid}`);
    await waitFor(() => d.pings() >= 2, 10_000, 'periodic pings');

    const logBefore = d.daemon.log.length;
    await site.broker.stop();
    await waitFor(() => /ECONNREFUSED/.test(d.daemon.log.slice(logBefore)), 20_000, 'the hub to notice its broker gone');
    await d.pingsGoOn('the broker going away');

    await reloads(d);
    await blockAndResume(d);
    await stopCleanly(d);
  }, 120_000);
});

async function startSocat(a: string, b: string): Promise<ChildProcess> {
  const child = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  await waitFor(() => err.includes('starting data transfer loop') && existsSync(a) && existsSync(b), 5000, 'socat');
  return child;
}

async function stopSocat(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}
