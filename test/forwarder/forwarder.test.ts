import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/log.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { Forwarder, type ForwarderFault, type ForwarderMode } from '../../src/hub/forwarder.js';
import { Pacer } from '../../src/hub/pacer.js';
import { UploadQueue, type PlatformRow } from '../../src/hub/upload-queue.js';
import { FakePlatform, failures, makeRow } from './fake-platform.js';

const T0 = Date.UTC(2026, 10, 21, 0, 0, 0); // 08:00 in Shanghai
const HOUR = 3600_000;

interface Setup {
  mode?: ForwarderMode;
  dailyBudget?: number;
  maxRowsPerRequest?: number;
  db?: Database.Database;
  clock?: ManualClock;
}

function setup(options: Setup = {}) {
  const clock = options.clock ?? new ManualClock(T0);
  const db = options.db ?? new Database(':memory:');
  const queue = new UploadQueue(db, clock);
  queue.migrate();
  const pacer = new Pacer({
    clock,
    dailyBudget: options.dailyBudget,
    backoff: { baseMs: 2_000, maxMs: 120_000, jitter: () => 0.5 },
  });
  const platform = new FakePlatform(clock);
  const faults: ForwarderFault[] = [];
  const forwarder = new Forwarder({
    queue,
    profile: platform,
    pacer,
    clock,
    log: silentLogger(),
    mode: options.mode ?? 'auto',
    pollDelayMs: 2_000,
    maxRowsPerRequest: options.maxRowsPerRequest,
    onFault: (f) => faults.push(f),
  });
  const enqueue = (rows: PlatformRow[]) => {
    for (const row of rows) queue.enqueue(row);
    forwarder.notify();
  };
  const settled = () => {
    const c = queue.counts();
    return c.pending === 0 && c.inFlight === 0;
  };
  return { clock, db, queue, pacer, platform, faults, forwarder, enqueue, settled };
}

function rows(n: number, team = 1, from = 0): PlatformRow[] {
  return Array.from({ length: n }, (_, k) => makeRow(from + k, T0 - HOUR + (from + k) * 1000, team));
}

describe('forwarder in auto mode', () => {
  it('drains a 1,000-row backlog of several teams with no request over the rate limit', async () => {
    const s = setup();
    const teamOf = new Map<string, number>();
    const backlog: PlatformRow[] = [];
    for (let i = 0; i < 1000; i++) {
      const team = (i % 5) + 1;
      const row = makeRow(i, T0 - 10 * HOUR + i * 7_000, team);
      teamOf.set(row.idNumber, team);
      backlog.push(row);
    }
    s.enqueue(backlog);
    s.forwarder.start();
    expect(await s.clock.runUntil(s.settled, 2 * HOUR, 5_000)).toBe(true);

    expect(s.queue.counts()).toMatchObject({ delivered: 1000, rejected: 0, pending: 0, inFlight: 0 });
    expect(s.platform.overLimit).toBe(0);
    expect(s.platform.smallestGapMs()).toBeGreaterThanOrEqual(1200);
    const uploads = s.platform.uploads;
    const sent = new Set<string>();
    for (const u of uploads) {
      expect(u.batch!.rows.length).toBeGreaterThan(0);
      expect(u.batch!.rows.length).toBeLessThanOrEqual(20);
      for (const r of u.batch!.rows) {
        expect(teamOf.get(r.idNumber)).toBe(u.batch!.teamSysNo);
        sent.add(r.idNumber);
      }
    }
    expect(sent.size).toBe(1000);
    expect(uploads.length).toBe(50);
    const c = s.forwarder.counters;
    expect(c.requests).toBe(s.platform.log.length);
    expect(c.rowsDelivered).toBe(1000);
    expect(c.lastUploadMs).not.toBeNull();
  });

  it('backs off after -5 and then delivers', async () => {
    const s = setup();
    s.platform.uploadScript.push(failures.rateLimited(30_000));
    s.enqueue(rows(5));
    s.forwarder.start();
    expect(await s.clock.runUntil(s.settled, HOUR, 1_000)).toBe(true);
    const [first, second] = s.platform.uploads;
    expect(second.monoMs - first.monoMs).toBeGreaterThanOrEqual(30_000);
    expect(s.queue.counts().delivered).toBe(5);
    expect(s.platform.overLimit).toBe(0);
    expect(s.pacer.stats.rateLimited).toBe(1);
    expect(s.queue.get(rows(1)[0].rowId)?.attempts).toBe(2);
  });

  it.each([
    ['bad sign (-2)', failures.badSign(), 'bad_sign'],
    ['IP not allowed (-4)', failures.ipNotAllowed(), 'ip_not_allowed'],
    ['no permission (-3)', failures.noPermission(), 'no_permission'],
  ])('halts on %s, raises a fault, and calls nothing more until resumed', async (_name, reply, kind) => {
    const s = setup();
    s.platform.uploadScript.push(reply);
    s.enqueue(rows(30));
    s.forwarder.start();
    await s.clock.advance(10_000);
    expect(s.faults).toHaveLength(1);
    expect(s.faults[0]).toMatchObject({ kind });
    expect(s.pacer.halted).toContain(kind);

    s.enqueue(rows(10, 2)); // new punches arrive: still nothing is sent
    await s.clock.advance(12 * HOUR);
    expect(s.platform.log).toHaveLength(1);
    expect(s.queue.counts()).toMatchObject({ pending: 40, inFlight: 0, delivered: 0 });
    expect(s.forwarder.counters).toMatchObject({ faults: 1, requests: 1, lastError: { kind } });

    s.forwarder.resume();
    expect(await s.clock.runUntil(s.settled, HOUR, 1_000)).toBe(true);
    expect(s.queue.counts().delivered).toBe(40);
    expect(s.platform.overLimit).toBe(0);
  });

  it('halts when a result poll says the signature is bad', async () => {
    const s = setup();
    s.platform.queryScript.push(failures.badSign());
    s.enqueue(rows(3));
    s.forwarder.start();
    await s.clock.advance(6 * HOUR);
    expect(s.platform.log.map((r) => r.kind)).toEqual(['upload', 'query']);
    expect(s.faults).toHaveLength(1);
    expect(s.queue.counts()).toMatchObject({ pending: 3, inFlight: 0 });
  });

  it('retries time-outs, network errors, 5xx and bad replies with growing gaps, then delivers', async () => {
    const s = setup();
    s.platform.uploadScript.push(failures.timeout(), failures.serverError(), failures.network(), failures.badReply());
    s.platform.queryScript.push(failures.serverError());
    s.enqueue(rows(4));
    s.forwarder.start();
    expect(await s.clock.runUntil(s.settled, HOUR, 1_000)).toBe(true);
    expect(s.queue.counts().delivered).toBe(4);
    expect(s.platform.log.map((r) => r.kind)).toEqual(['upload', 'upload', 'upload', 'upload', 'upload', 'query', 'query']);
    const u = s.platform.uploads.map((r) => r.monoMs);
    const gaps = u.slice(1).map((t, i) => t - u[i]);
    // back-off steps 2, 4, 8, 16 s; with jitter ½ each waits ¾ of its step (all above the 1.2 s spacing)
    expect(gaps).toEqual([1_500, 3_000, 6_000, 12_000]);
    expect(s.forwarder.counters.badReplies).toBe(1);
    expect(s.platform.overLimit).toBe(0);
  });

  it('counts a row the platform already has as delivered', async () => {
    const s = setup();
    const [dup, fresh] = rows(2);
    s.platform.known.add(FakePlatform.key(dup));
    s.enqueue([dup, fresh]);
    s.forwarder.start();
    expect(await s.clock.runUntil(s.settled, HOUR, 1_000)).toBe(true);
    expect(s.queue.get(dup.rowId)).toMatchObject({ state: 'delivered', result: 'duplicate' });
    expect(s.queue.get(fresh.rowId)).toMatchObject({ state: 'delivered', result: 'accepted' });
    expect(s.forwarder.counters).toMatchObject({ rowsDelivered: 2, rowsDuplicate: 1 });
  });

  it('keeps a rejected row with its reason and delivers the rest of its batch', async () => {
    const s = setup();
    const batch = rows(3);
    s.platform.rejectIds.set(batch[1].idNumber, 'worker not registered in team');
    s.enqueue(batch);
    s.forwarder.start();
    expect(await s.clock.runUntil(s.settled, HOUR, 1_000)).toBe(true);
    expect(s.queue.get(batch[1].rowId)).toMatchObject({ state: 'rejected', result: 'worker not registered in team' });
    expect(s.queue.counts()).toMatchObject({ delivered: 2, rejected: 1 });
    expect(s.queue.rejectedRows(10).map((r) => r.rowId)).toEqual([batch[1].rowId]);
    expect(s.forwarder.counters.rowsRejected).toBe(1);
    // terminal: never re-sent
    await s.clock.advance(HOUR);
    expect(s.platform.uploads).toHaveLength(1);
  });

  it('rejects the rows of a request the platform calls malformed (-1), with its message', async () => {
    const s = setup();
    s.platform.uploadScript.push(failures.badParams('teamSysNo unknown'));
    s.enqueue(rows(3));
    s.forwarder.start();
    expect(await s.clock.runUntil(s.settled, HOUR, 1_000)).toBe(true);
    expect(s.queue.counts()).toMatchObject({ rejected: 3, delivered: 0 });
    expect(s.queue.rejectedRows(1)[0].reason).toContain('teamSysNo unknown');
    expect(s.platform.log).toHaveLength(1);
  });

  it('keeps polling while the result is pending, every poll paced', async () => {
    const s = setup();
    s.platform.pendingPolls = 3;
    s.enqueue(rows(2));
    s.forwarder.start();
    expect(await s.clock.runUntil(s.settled, HOUR, 1_000)).toBe(true);
    expect(s.platform.log.map((r) => r.kind)).toEqual(['upload', 'query', 'query', 'query', 'query']);
    expect(s.platform.overLimit).toBe(0);
  });

  it('waits for notify() instead of polling an empty queue', async () => {
    const s = setup();
    s.forwarder.start();
    await s.clock.advance(HOUR);
    expect(s.platform.log).toHaveLength(0);
    expect(s.clock.pendingTimers()).toBe(0);
    s.enqueue(rows(2));
    expect(await s.clock.runUntil(s.settled, HOUR, 1_000)).toBe(true);
    expect(s.queue.counts().delivered).toBe(2);
  });

  it('stops making requests for the rest of the day when the daily budget is spent', async () => {
    const s = setup({ dailyBudget: 10 });
    s.enqueue(rows(200));
    s.forwarder.start();
    const midnight = Date.UTC(2026, 10, 21, 16, 0, 0); // 00:00 in Shanghai
    await s.clock.advance(midnight - T0 - 1);
    expect(s.platform.log).toHaveLength(10);
    expect(s.queue.counts().delivered).toBe(100);
    await s.clock.advance(HOUR);
    expect(s.platform.log.length).toBeGreaterThan(10);
    expect(s.platform.log.slice(10).every((r) => r.atMs >= midnight)).toBe(true);
    expect(s.platform.log.filter((r) => r.atMs >= midnight)).toHaveLength(10);
  });

  it('stop() during a request lets it and its poll finish, then sends nothing more', async () => {
    const s = setup();
    s.platform.uploadLatencyMs = 5_000;
    s.enqueue(rows(60));
    s.forwarder.start();
    await s.clock.advance(1_000); // first upload is on the wire
    expect(s.platform.uploads).toHaveLength(1);
    let stopped = false;
    const stopping = s.forwarder.stop().then(() => (stopped = true));
    await s.clock.advance(4_000);
    expect(stopped).toBe(false);
    await s.clock.runUntil(() => stopped, HOUR, 1_000);
    await stopping;
    expect(s.platform.log.map((r) => r.kind)).toEqual(['upload', 'query']);
    expect(s.queue.counts()).toMatchObject({ delivered: 20, pending: 40, inFlight: 0 });
    s.forwarder.notify();
    await s.clock.advance(10 * HOUR);
    expect(s.platform.log).toHaveLength(2);
  });

  it('stop() while backing off gives the batch back without sending it', async () => {
    const s = setup();
    s.platform.uploadScript.push(failures.rateLimited(10 * 60_000));
    s.enqueue(rows(5));
    s.forwarder.start();
    await s.clock.advance(1_000);
    await s.forwarder.stop();
    expect(s.queue.counts()).toMatchObject({ pending: 5, inFlight: 0 });
    // the retry's attempt, counted ahead of its wait, is taken back: one send, one attempt
    expect(s.queue.get(rows(1)[0].rowId)?.attempts).toBe(1);
    await s.clock.advance(HOUR);
    expect(s.platform.log).toHaveLength(1);
  });

  it('after a crash re-sends exactly the batch that was in flight', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sitegate-forwarder-'));
    try {
      const file = join(dir, 'hub.db');
      const clock = new ManualClock(T0);
      const before = setup({ db: new Database(file), clock, maxRowsPerRequest: 5 });
      before.platform.uploadScript.push('hang'); // the process dies while this request is out
      before.enqueue(rows(30));
      before.forwarder.start();
      await clock.advance(1_000);
      const lost = before.platform.uploads[0].batch!.rows.map((r) => r.idNumber);
      expect(lost).toHaveLength(5);
      expect(before.queue.counts().inFlight).toBe(5);
      // older punches of the same team arrive (a gate back online) before the crash
      for (let i = 0; i < 10; i++) before.queue.enqueue(makeRow(100 + i, T0 - 5 * HOUR + i * 1000, 1));
      before.db.close();

      const after = setup({ db: new Database(file), clock });
      after.forwarder.start();
      expect(await clock.runUntil(after.settled, HOUR, 1_000)).toBe(true);
      const uploads = after.platform.uploads.map((u) => u.batch!.rows.map((r) => r.idNumber));
      expect(uploads[0]).toEqual(lost);
      expect(uploads.slice(1).map((u) => u.length)).toEqual([20, 15]);
      expect(uploads.flat().filter((id) => lost.includes(id))).toHaveLength(5); // sent once each
      expect(after.queue.counts().delivered).toBe(40);
      after.db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('forwarder in joint-test mode', () => {
  it('makes no call over hours without an operator command, while auto mode drains the same queue', async () => {
    const joint = setup({ mode: 'joint-test' });
    joint.enqueue(rows(50));
    joint.forwarder.start();
    await joint.clock.advance(8 * HOUR);
    expect(joint.platform.log).toHaveLength(0);
    expect(joint.queue.counts().pending).toBe(50);
    expect(joint.clock.pendingTimers()).toBe(0);

    const auto = setup({ mode: 'auto' });
    auto.enqueue(rows(50));
    auto.forwarder.start();
    await auto.clock.advance(8 * HOUR);
    expect(auto.queue.counts().delivered).toBe(50);
  });

  it('uploadNow(3) sends at most three rows, paced, and nothing afterwards', async () => {
    const s = setup({ mode: 'joint-test' });
    s.enqueue(rows(50));
    s.forwarder.start();
    let result: Awaited<ReturnType<Forwarder['uploadNow']>> | null = null;
    void s.forwarder.uploadNow(3).then((r) => (result = r));
    await s.clock.runUntil(() => result !== null, HOUR, 1_000);
    expect(result).toMatchObject({ ok: true, rowsSent: 3, delivered: 3, requests: 2 });
    const sentRows = s.platform.uploads.flatMap((u) => u.batch!.rows);
    expect(sentRows).toHaveLength(3);
    expect(s.queue.counts()).toMatchObject({ delivered: 3, pending: 47 });
    await s.clock.advance(8 * HOUR);
    expect(s.platform.log).toHaveLength(2);
  });

  it('uploadNow larger than one request sends several paced requests of ≤ 20 rows', async () => {
    const s = setup({ mode: 'joint-test' });
    s.enqueue(rows(50));
    s.forwarder.start();
    let result: Awaited<ReturnType<Forwarder['uploadNow']>> | null = null;
    void s.forwarder.uploadNow(45).then((r) => (result = r));
    await s.clock.runUntil(() => result !== null, HOUR, 1_000);
    expect(result).toMatchObject({ ok: true, rowsSent: 45 });
    expect(s.platform.uploads.map((u) => u.batch!.rows.length)).toEqual([20, 20, 5]);
    expect(s.platform.overLimit).toBe(0);
  });

  it('uploadNow reports a platform failure and does not retry on its own', async () => {
    const s = setup({ mode: 'joint-test' });
    s.platform.uploadScript.push(failures.serverError());
    s.enqueue(rows(5));
    s.forwarder.start();
    let result: Awaited<ReturnType<Forwarder['uploadNow']>> | null = null;
    void s.forwarder.uploadNow(5).then((r) => (result = r));
    await s.clock.runUntil(() => result !== null, HOUR, 1_000);
    expect(result).toMatchObject({ ok: false, code: 'platform_error', kind: 'server_error', returned: 5 });
    await s.clock.advance(8 * HOUR);
    expect(s.platform.log).toHaveLength(1);
    expect(s.queue.counts().pending).toBe(5);
  });

  it('refuses uploadNow in auto mode and bad counts', async () => {
    const auto = setup({ mode: 'auto' });
    expect(await auto.forwarder.uploadNow(3)).toMatchObject({ ok: false, code: 'wrong_mode' });
    const joint = setup({ mode: 'joint-test' });
    expect(await joint.forwarder.uploadNow(0)).toMatchObject({ ok: false, code: 'bad_count' });
    expect(joint.platform.log).toHaveLength(0);
  });
});

describe('forwarder in joint-test mode while halted', () => {
  it('uploadNow reports the halt instead of waiting for it', async () => {
    const s = setup({ mode: 'joint-test' });
    s.enqueue(rows(5));
    s.forwarder.start();
    s.pacer.halt('bad_sign (-2): sign mismatch');
    const result = await s.forwarder.uploadNow(5);
    expect(result).toMatchObject({ ok: false, code: 'platform_error', kind: 'halted', returned: 5 });
    expect(s.platform.log).toHaveLength(0);
    expect(s.queue.counts()).toMatchObject({ pending: 5, inFlight: 0 });
  });
});
