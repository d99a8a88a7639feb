import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NotifyListener, waitFor } from './helpers.js';

// A real daemon process under a NOTIFY_SOCKET that socat listens on, as systemd would. The
// daemon notifies through `systemd-notify` children; WATCHDOG_USEC=600 ms asks for a ping
// every 300 ms (socat never answers systemd-notify's barrier, so pings arrive about once a second).
const FIXTURE = join(import.meta.dirname, 'fixtures/watchdog-daemon.ts');
const dir = mkdtempSync(join(tmpdir(), 'field-notify-'));
const children: ChildProcess[] = [];
const listeners: NotifyListener[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const l of listeners) l.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function startDaemon(name: string) {
  const listener = new NotifyListener(join(dir, `${name}.notify`));
  listeners.push(listener);
  await listener.start();
  const state = join(dir, name);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(state);
  const child = spawn(process.execPath, [FIXTURE, state], {
    env: { ...process.env, NOTIFY_SOCKET: listener.path, WATCHDOG_USEC: '600000' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => (stdout += d));
  const said = (what: string) => stdout.includes(`{"fixture":"${what}"}`);
  const send = async (word: string) => {
    child.stdin!.write(word + '\n');
    await waitFor(() => said(`${word} done`) || (word === 'block' && said('blocking')), 10_000, `fixture to take ${word}`);
  };
  return { listener, child, send, log: () => stdout };
}

describe('systemd notification from a running daemon', () => {
  it('says READY=1, pings through a reader fault and a full journal, reloads on SIGHUP and says STOPPING=1', async () => {
    const { listener, child, send, log } = await startDaemon('a');
    await waitFor(() => listener.count('READY=1') >= 1, 20_000, 'READY=1');
    expect(listener.out).toMatch(/STATUS=reloads 0; faults: none/);
    expect(listener.out).toContain(`MAINPID=${child.pid}`);
    await waitFor(() => listener.count('WATCHDOG=1') >= 2, 10_000, 'periodic pings');

    await send('reader-fault');
    await send('journal-full');
    expect(log()).toMatch(/journal_full:SQLITE_FULL/);
    const before = listener.count('WATCHDOG=1');
    await waitFor(() => listener.count('WATCHDOG=1') >= before + 2, 10_000, 'pings after the faults');
    await waitFor(() => listener.out.includes('faults: reader_unplugged, journal_full:SQLITE_FULL'), 10_000, 'the faults in STATUS=');

    child.kill('SIGHUP');
    await waitFor(() => listener.count('RELOADING=1') === 1 && listener.count('READY=1') >= 2, 10_000, 'RELOADING=1 then READY=1');
    expect(listener.out.lastIndexOf('READY=1')).toBeGreaterThan(listener.out.indexOf('RELOADING=1'));
    expect(listener.out).toMatch(/MONOTONIC_USEC=\d+/);

    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(0);
    await waitFor(() => listener.count('STOPPING=1') === 1, 10_000, 'STOPPING=1');
  });

  it('withholds the pings once the journal can no longer be read (systemd restarts it)', async () => {
    const { listener, send, log } = await startDaemon('b');
    await waitFor(() => listener.count('WATCHDOG=1') >= 1, 20_000, 'first ping');
    await send('journal-gone');
    await waitFor(() => /watchdog pings withheld/.test(log()), 10_000, 'the withheld log line');
    const after = listener.count('WATCHDOG=1');
    await new Promise((r) => setTimeout(r, 2500));
    expect(listener.count('WATCHDOG=1')).toBeLessThanOrEqual(after + 1); // at most one already on its way
  });

  it('stops pinging when the event loop is blocked', async () => {
    const { listener, send } = await startDaemon('c');
    await waitFor(() => listener.count('WATCHDOG=1') >= 2, 20_000, 'pings before the block');
    await send('block');
    await new Promise((r) => setTimeout(r, 300));
    const frozen = listener.count('WATCHDOG=1');
    await new Promise((r) => setTimeout(r, 2500)); // several ping periods
    expect(listener.count('WATCHDOG=1')).toBe(frozen);
  });
});
