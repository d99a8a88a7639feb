import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JournalEntry, PunchEntry } from '../../src/core/entries.js';
import { newPunchId } from '../../src/core/ids.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { dailyReport, reportCsv, reportText, shanghaiDayBounds } from '../../src/hub/report.js';
import { HubStore } from '../../src/hub/store.js';
import { UploadQueue } from '../../src/hub/upload-queue.js';

const dir = mkdtempSync(join(tmpdir(), 'hub-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const H = 3600_000;
const DAY = shanghaiDayBounds('2026-11-21').fromMs; // 2026-11-21 00:00 Shanghai
const HASH = '0'.repeat(64);

/** Writes a day of punches into a hub database the way ingest stores them. */
function buildDb(path: string) {
  const store = new HubStore(path);
  const entries: JournalEntry[] = [];
  let seq = 0;
  const pass = (workerId: string | null, direction: 'in' | 'out', atMs: number, outcome: 'confirmed' | 'timeout' | 'interrupted' = 'confirmed', decision: 'granted' | 'denied' = 'granted') => {
    const punchId = newPunchId();
    const time = { ms: atMs, clockSynced: true, bootId: 'b', monoMs: 1 };
    const punch: PunchEntry = {
      type: 'punch', seq: seq++, prevHash: HASH, punchId, gateId: 'G1', siteId: 'S1', lane: 'L1', direction, time, workerId,
      credential: { kind: 'card', hmac: HASH }, decision, reason: decision === 'granted' ? 'ok' : 'expired', face: null, photoHash: null,
    };
    entries.push(punch, { type: 'passage', seq: seq++, prevHash: HASH, gateId: 'G1', punchId, outcome, sensorCount: 1, time });
    return punchId;
  };
  // W1: in 07:30, out 12:00, in 13:00, out 17:45 → 9.25 h
  pass('W1', 'in', DAY + 7.5 * H);
  pass('W1', 'out', DAY + 12 * H);
  pass('W1', 'in', DAY + 13 * H);
  const lastOut = pass('W1', 'out', DAY + 17.75 * H);
  // W2 (night shift): leaves at 06:00, came in the day before → 6 h on this day; a denied try and an interrupted passage don't count
  pass('W2', 'out', DAY + 6 * H);
  pass('W2', 'in', DAY + 9 * H, 'interrupted');
  pass('W2', 'in', DAY + 9.1 * H, 'confirmed', 'denied');
  // W3: came in at 20:00 and is still on site at midnight → 4 h; yesterday's punch is not in the report
  pass('W3', 'in', DAY + 20 * H);
  pass('W3', 'out', DAY - 2 * H);
  const hashes = entries.map(() => HASH);
  store.transaction(() => store.appendVerified('G1', 1, entries, hashes, { seq: seq - 1, hash: HASH, sigAlg: 'ECDSA-P256-SHA256', sig: 'AA==', certSha256: HASH }, DAY, false));

  const clock = new ManualClock(DAY + 23 * H);
  const queue = new UploadQueue(store.db, clock);
  queue.migrate();
  const row = (rowId: string, workerId: string, team: number, timeMs: number) => ({
    rowId, gateId: 'G1', workerId, projectCode: 'P1', teamSysNo: team, idCardType: '01', idNumber: '11010519491231002X', timeMs, direction: 'out' as const, credentialKind: 'card' as const,
  });
  queue.enqueue(row(lastOut, 'W1', 1, DAY + 17.75 * H)); // still waiting
  queue.enqueue(row('r-w3', 'W3', 2, DAY + 20 * H));
  queue.markInFlight(['r-w3'], null);
  queue.markRejected('r-w3', 'unknown worker');
  store.close();
}

describe('daily attendance report', () => {
  const db = join(dir, 'hub.db');
  buildDb(db);
  const workers = new Map([
    ['W1', { name: '王伟', projectCode: 'P1', teamSysNo: 1 }],
    ['W2', { name: '李娜', projectCode: 'P1', teamSysNo: 1 }],
  ]);

  it('gives first in, last out and hours on site per worker, for the Asia/Shanghai day', () => {
    const r = dailyReport(db, '2026-11-21', { nowMs: DAY + 30 * H, workers });
    const w = new Map(r.workers.map((x) => [x.workerId, x]));
    expect(w.get('W1')).toMatchObject({ name: '王伟', firstInMs: DAY + 7.5 * H, lastOutMs: DAY + 17.75 * H, hoursOnSite: 9.25, passages: 4, onSite: false, waiting: 1 });
    expect(w.get('W2')).toMatchObject({ firstInMs: null, lastOutMs: DAY + 6 * H, hoursOnSite: 6, passages: 1 });
    expect(w.get('W3')).toMatchObject({ projectCode: 'P1', teamSysNo: 2, hoursOnSite: 4, onSite: true, rejected: [{ reason: 'unknown worker', direction: 'out' }] });
  });

  it('sums per team and shows what still waits for the platform', () => {
    const r = dailyReport(db, '2026-11-21', { nowMs: DAY + 30 * H, workers });
    expect(r.teams).toEqual([
      { projectCode: 'P1', teamSysNo: 1, workers: 2, firstInMs: DAY + 7.5 * H, lastOutMs: DAY + 17.75 * H, hoursOnSite: 15.25, waiting: 1, rejected: 0 },
      { projectCode: 'P1', teamSysNo: 2, workers: 1, firstInMs: DAY + 20 * H, lastOutMs: null, hoursOnSite: 4, waiting: 0, rejected: 1 },
    ]);
    expect(r.waiting).toBe(1);
    expect(r.oldestWaitingMs).toBe(DAY + 17.75 * H);
  });

  it('counts a worker still on site today up to now', () => {
    const r = dailyReport(db, '2026-11-21', { nowMs: DAY + 22 * H, workers });
    expect(r.workers.find((w) => w.workerId === 'W3')?.hoursOnSite).toBe(2);
  });

  it('prints CSV and a table with Shanghai times', () => {
    const r = dailyReport(db, '2026-11-21', { nowMs: DAY + 30 * H, workers });
    const csv = reportCsv(r).trim().split('\n');
    expect(csv[0]).toBe('date,kind,projectCode,teamSysNo,workerId,name,workers,firstIn,lastOut,hoursOnSite,onSite,waiting,rejected');
    expect(csv).toContain('2026-11-21,worker,P1,1,W1,王伟,1,07:30:00,17:45:00,9.25,false,1,0');
    expect(csv).toContain('2026-11-21,team,P1,2,,,1,20:00:00,,4,,0,1');
    const text = reportText(r);
    expect(text).toContain('Waiting for the platform: 1 row(s), oldest 2026-11-21 17:45:00');
    expect(text).toContain('W3 20:00:00 out: unknown worker');
  });

  it('refuses a date that is not a calendar day and a database that is not there', () => {
    expect(() => dailyReport(db, '2026-02-30', { nowMs: DAY })).toThrow(/calendar day/);
    expect(() => dailyReport(join(dir, 'none.db'), '2026-11-21', { nowMs: DAY })).toThrow(/read-only/);
  });
});
