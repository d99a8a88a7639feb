import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from '../../src/core/clock.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { Pacer } from '../../src/hub/pacer.js';
import { SqliteReplyLog } from '../../src/hub/reply-log.js';
import { SlidingWindow } from '../../src/municipal/sim/rate-window.js';

const T0 = Date.UTC(2026, 10, 21, 2, 0, 0);
const N = 4;
const W = 10_000;
const UP_MS = 100;
const DOWN_MS = 200;

/**
 * One hub process: its own clock (monotonic ms from 0, like a new process) at wall time `wallMs`,
 * the hub database opened again, a pacer over it, and the platform that counts arrivals in wall time.
 */
function hubProcess(path: string, wallMs: number, platform: Platform, persist = true) {
  const clock = new ManualClock(wallMs);
  const db = new Database(path);
  const pacer = new Pacer({
    clock,
    window: { requests: N, windowMs: W },
    minSpacingMs: 50,
    bucket: { capacity: N, refillPerMs: N / W },
    ...(persist ? { replyLog: new SqliteReplyLog(db) } : {}),
  });
  const sends: number[] = [];
  const replies: number[] = [];
  /** `n` requests one after the other, `gapMs` apart; `done` once all replied (a crash simply never gets there). */
  const run = (n: number, opts: { hangOnLast?: boolean; gapMs?: number } = {}) => {
    const state = { done: false };
    void (async () => {
      for (let i = 0; i < n; i++) {
        if (i > 0 && opts.gapMs) await sleep(clock, opts.gapMs);
        await pacer.request(async () => {
          sends.push(clock.now());
          await sleep(clock, UP_MS);
          platform.arrive(clock.now());
          if (opts.hangOnLast && i === n - 1) await new Promise(() => {}); // the process dies before the reply
          await sleep(clock, DOWN_MS);
          replies.push(clock.now());
        });
      }
      state.done = true;
    })();
    return state;
  };
  return { clock, db, pacer, sends, replies, run };
}

class Platform {
  readonly arrivals: number[] = [];
  refused = 0;
  private readonly limit = new SlidingWindow(N, W);
  arrive(atMs: number): void {
    this.arrivals.push(atMs);
    if (!this.limit.admit('app', atMs).admitted) this.refused++;
  }
}

describe('the pacer window across a hub restart', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const dbPath = () => {
    const d = mkdtempSync(join(tmpdir(), 'pacer-restart-'));
    dirs.push(d);
    return join(d, 'hub.db');
  };

  it('a pacer restarted within one window waits until the oldest reply of the process before is a window old', async () => {
    const path = dbPath();
    const platform = new Platform();
    const a = hubProcess(path, T0, platform);
    const first = a.run(N);
    expect(await a.clock.runUntil(() => first.done, 60_000, 100)).toBe(true);
    a.db.close(); // the hub dies

    const b = hubProcess(path, a.clock.now() + 1_000, platform);
    expect(b.pacer.stats.nextAllowedMs).toBe(a.replies[0] + W);
    const second = b.run(N);
    await b.clock.advance(a.replies[0] + W - 1 - b.clock.now());
    expect(b.sends).toEqual([]);
    await b.clock.advance(1);
    expect(b.sends).toEqual([a.replies[0] + W]);
    expect(await b.clock.runUntil(() => second.done, 60_000, 100)).toBe(true);
    // each later request waits for the next reply of the process before, then for its own
    expect(b.sends.slice(1, N)).toEqual(a.replies.slice(1).map((t) => t + W));
    expect(platform.arrivals).toHaveLength(2 * N);
    expect(platform.refused).toBe(0);
  });

  it('without the kept replies the same restart crowds the platform window (what the log prevents)', async () => {
    const path = dbPath();
    const platform = new Platform();
    const a = hubProcess(path, T0, platform, false);
    const first = a.run(N);
    expect(await a.clock.runUntil(() => first.done, 60_000, 100)).toBe(true);
    a.db.close();
    const b = hubProcess(path, a.clock.now() + 1_000, platform, false);
    const second = b.run(N);
    expect(await b.clock.runUntil(() => second.done, 60_000, 100)).toBe(true);
    expect(platform.refused).toBeGreaterThan(0);
  });

  it('counts a request that had no reply when the hub died as replied when the new hub starts', async () => {
    const path = dbPath();
    const platform = new Platform();
    const a = hubProcess(path, T0, platform);
    a.run(N, { hangOnLast: true });
    await a.clock.runUntil(() => platform.arrivals.length === N, 60_000, 100);
    await a.clock.advance(300); // its reply is on the way when the hub dies
    a.db.close();

    const restartMs = a.clock.now() + 500;
    const b = hubProcess(path, restartMs, platform);
    const second = b.run(N);
    expect(await b.clock.runUntil(() => second.done, 60_000, 100)).toBe(true);
    expect(b.sends.slice(0, N - 1)).toEqual(a.replies.map((t) => t + W));
    expect(b.sends[N - 1]).toBe(restartMs + W);
    expect(platform.refused).toBe(0);
  });

  it('ignores reply times older than a window', async () => {
    const path = dbPath();
    const platform = new Platform();
    const a = hubProcess(path, T0, platform);
    const first = a.run(N, { gapMs: 2_000 });
    expect(await a.clock.runUntil(() => first.done, 60_000, 100)).toBe(true);
    a.db.close();

    // the oldest reply is more than a window old, the others are not
    const b = hubProcess(path, a.replies[0] + W + 1, platform);
    expect(b.pacer.stats.nextAllowedMs).toBe(b.clock.now());
    const one = b.run(1);
    expect(await b.clock.runUntil(() => one.done, 1_000)).toBe(true);
    expect(b.sends).toEqual([a.replies[0] + W + 1]);
    expect(b.pacer.stats.nextAllowedMs).toBe(a.replies[1] + W);
    expect(new SqliteReplyLog(b.db).load()).toEqual([...a.replies.slice(1), ...b.replies].map((atMs) => ({ atMs, replied: true })));
    b.db.close();

    // every reply more than a window old: the new pacer sends at once, paced only by its spacing
    const c = hubProcess(path, b.clock.now() + W + 1, platform);
    const startMs = c.clock.now();
    const burst = c.run(N);
    expect(await c.clock.runUntil(() => burst.done, 60_000, 100)).toBe(true);
    expect(c.sends[0]).toBe(startMs);
    expect(c.sends[N - 1] - startMs).toBeLessThan(W);
    expect(platform.refused).toBe(0);
  });

  it('waits one full window when the kept times cannot be trusted: a reply in the future, or a damaged row', async () => {
    const path = dbPath();
    const setup = new Database(path);
    const log = new SqliteReplyLog(setup);
    const startMs = T0 + 3_600_000;
    log.save([{ atMs: startMs + 60_000, replied: true }]); // the wall clock was set back an hour meanwhile
    setup.close();
    const platform = new Platform();
    const b = hubProcess(path, startMs, platform);
    b.run(N);
    await b.clock.runUntil(() => b.sends.length === N, 60_000, 100);
    expect(b.sends.slice(0, N - 1).every((t) => t < startMs + W)).toBe(true);
    expect(b.sends[N - 1]).toBe(startMs + W);
    b.db.close();

    const damaged = new Database(path);
    damaged.prepare('UPDATE platform_recent_requests SET recent = ?').run('[{"atMs": "soon"}]');
    expect(new SqliteReplyLog(damaged).load()).toBeNull();
    damaged.close();
    const c = hubProcess(path, startMs + 2 * W, platform);
    expect(c.pacer.stats.nextAllowedMs).toBe(startMs + 3 * W);
  });
});
