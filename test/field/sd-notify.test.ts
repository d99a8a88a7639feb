import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/log.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { SdNotifier } from '../../src/daemon/sd-notify.js';
import { WatchdogPinger } from '../../src/daemon/watchdog.js';

function recorder() {
  const sent: string[][] = [];
  let release: (() => void) | null = null;
  let hold = false;
  const transport = (lines: readonly string[]) => {
    sent.push([...lines]);
    return hold ? new Promise<void>((r) => (release = r)) : Promise.resolve();
  };
  return { sent, transport, holdNext: () => (hold = true), release: () => { hold = false; release?.(); } };
}

describe('SdNotifier', () => {
  it('does nothing without NOTIFY_SOCKET', () => {
    const r = recorder();
    const n = new SdNotifier({ socket: undefined, watchdogUsec: '1000000', clock: new ManualClock(), log: silentLogger(), transport: r.transport });
    n.ready('up');
    n.watchdog();
    expect(r.sent).toEqual([]);
    expect(n.enabled).toBe(false);
    expect(n.watchdogIntervalMs()).toBeNull();
  });

  it('pings at half of WATCHDOG_USEC, and not for another process’s WATCHDOG_PID', () => {
    const base = { socket: '/run/x', clock: new ManualClock(), log: silentLogger(), transport: recorder().transport };
    expect(new SdNotifier({ ...base, watchdogUsec: '30000000' }).watchdogIntervalMs()).toBe(15_000);
    expect(new SdNotifier({ ...base, watchdogUsec: '30000000', watchdogPid: String(process.pid) }).watchdogIntervalMs()).toBe(15_000);
    expect(new SdNotifier({ ...base, watchdogUsec: '30000000', watchdogPid: '1' }).watchdogIntervalMs()).toBeNull();
    expect(new SdNotifier({ ...base }).watchdogIntervalMs()).toBeNull();
  });

  it('sends in order, one datagram at a time, keeping only the newest STATUS and one WATCHDOG', async () => {
    const r = recorder();
    const n = new SdNotifier({ socket: '/run/x', clock: new ManualClock(), log: silentLogger(), transport: r.transport });
    r.holdNext();
    n.status('starting');
    n.watchdog();
    n.status('loading roster');
    n.watchdog();
    n.ready('running');
    n.stopping();
    expect(r.sent).toEqual([['STATUS=starting']]);
    r.release();
    await n.flush();
    expect(r.sent).toEqual([['STATUS=starting'], ['WATCHDOG=1', 'READY=1', 'STATUS=running', 'STOPPING=1']]);
  });

  it('keeps a STATUS= on one line', async () => {
    const r = recorder();
    const n = new SdNotifier({ socket: '/run/x', clock: new ManualClock(), log: silentLogger(), transport: r.transport });
    n.status('a\nREADY=1');
    await n.flush();
    expect(r.sent).toEqual([['STATUS=a READY=1']]);
  });
});

describe('WatchdogPinger', () => {
  it('pings every interval while healthy and withholds the pings while not', async () => {
    const clock = new ManualClock();
    const r = recorder();
    const notifier = new SdNotifier({ socket: '/run/x', clock, log: silentLogger(), transport: r.transport });
    let ok = true;
    const w = new WatchdogPinger({ notifier, intervalMs: 1000, clock, log: silentLogger(), healthy: () => (ok ? { ok } : { ok, reason: 'journal closed' }) });
    w.start();
    await clock.advance(3000);
    expect(w.counters.pings).toBe(4);
    ok = false;
    await clock.advance(3000);
    expect(w.counters).toEqual({ pings: 4, withheld: 3 });
    ok = true;
    await clock.advance(1000);
    expect(w.counters.pings).toBe(5);
    w.stop();
    await clock.advance(5000);
    expect(w.counters.pings).toBe(5);
    expect(r.sent.flat().every((l) => l === 'WATCHDOG=1')).toBe(true);
  });
});
