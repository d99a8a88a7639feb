import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { JournalEntry, PunchEntry, PunchTime } from '../../src/core/entries.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { BootClockCorrection } from '../../src/hub/clock-correction.js';
import { dailyReport, passagesQuery, QUEUE_ROWS_QUERY, shanghaiDayBounds } from '../../src/hub/report.js';
import { HubStore } from '../../src/hub/store.js';
import { UploadQueue } from '../../src/hub/upload-queue.js';
import { CHAINS_AND_ENTRIES_BEFORE_EPOCHS } from '../hub-integration/schema-before-epochs.js';

const H = 3600_000;
const DAY = shanghaiDayBounds('2026-11-21').fromMs;
const HASH = '0'.repeat(64);
const HEAD = { seq: 0, hash: HASH, sigAlg: 'ECDSA-P256-SHA256' as const, sig: 'AA==', certSha256: HASH };
/** A gate that booted at 09:00 without a clock: its raw readings say 1970. */
const BOOT_AT = DAY + 9 * H;

const synced = (ms: number, bootId = 'b0'): PunchTime => ({ ms, clockSynced: true, bootId, monoMs: 1 });
const unsynced = (realMs: number, bootId = 'b1'): PunchTime => ({ ms: 5_000 + (realMs - BOOT_AT), clockSynced: false, bootId, monoMs: realMs - BOOT_AT });
const syncedInBoot = (realMs: number, bootId = 'b1'): PunchTime => ({ ms: realMs, clockSynced: true, bootId, monoMs: realMs - BOOT_AT });

/** A punch and its passage, numbered from `seq`. */
function passage(seq: number, workerId: string | null, direction: 'in' | 'out', time: PunchTime, opts: { decision?: 'granted' | 'denied'; outcome?: 'confirmed' | 'timeout' | 'interrupted' } = {}): JournalEntry[] {
  const punchId = `p-${seq}`;
  const decision = opts.decision ?? 'granted';
  const punch: PunchEntry = {
    type: 'punch', seq, prevHash: HASH, punchId, gateId: 'G1', siteId: 'S1', lane: 'L1', direction, time, workerId,
    credential: { kind: 'card', hmac: HASH }, decision, reason: decision === 'granted' ? 'ok' : 'expired', face: null, photoHash: null,
  };
  return [punch, { type: 'passage', seq: seq + 1, prevHash: HASH, gateId: 'G1', punchId, outcome: opts.outcome ?? 'confirmed', sensorCount: 1, time }];
}

/** The hub's storing step: entries, then what HubRows learns of the gate's clock, in one transaction. */
function store(s: HubStore, entries: JournalEntry[]): void {
  const correction = new BootClockCorrection(s.db);
  s.transaction(() => {
    s.appendVerified('G1', 1, entries, entries.map(() => HASH), { ...HEAD, seq: entries[entries.length - 1].seq }, DAY, false);
    correction.observe('G1', entries);
  });
}

const workerTimes = (path: string, date = '2026-11-21') =>
  dailyReport(path, date, { nowMs: DAY + 30 * H }).workers.map((w) => ({ id: w.workerId, firstIn: w.firstInMs, lastOut: w.lastOutMs, passages: w.passages }));

describe('the report reads indexed time columns', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const dbPath = () => {
    const d = mkdtempSync(join(tmpdir(), 'hub-report-idx-'));
    dirs.push(d);
    return join(d, 'hub.db');
  };

  it('migrates a database from before the columns: fills them from the bodies in place, and the report is the same', () => {
    const path = dbPath();
    const entries = [
      ...passage(0, 'W1', 'in', synced(DAY + 7 * H)),
      ...passage(2, 'W1', 'out', synced(DAY + 17 * H)),
      ...passage(4, 'W2', 'in', synced(DAY + 8 * H), { decision: 'denied' }),
      ...passage(6, 'W2', 'in', synced(DAY + 8.5 * H), { outcome: 'interrupted' }),
      ...passage(8, 'W3', 'in', unsynced(DAY + 10 * H)), // its boot's offset is known: 10:00
      ...passage(10, 'W4', 'in', unsynced(DAY + 11 * H, 'b-never')), // never dated
      ...passage(12, null, 'in', synced(DAY + 12 * H)),
    ];
    const old = new Database(path);
    old.exec(`
      CREATE TABLE chains (gate_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL, next_seq INTEGER NOT NULL, last_hash TEXT NOT NULL);
      CREATE TABLE entries (gate_id TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, punch_id TEXT NOT NULL,
        body TEXT NOT NULL, hash TEXT NOT NULL, received_ms INTEGER NOT NULL, quarantined INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (gate_id, epoch, seq));
      CREATE INDEX entries_punch ON entries (punch_id, type);
      CREATE TABLE boot_offsets (gate_id TEXT NOT NULL, boot_id TEXT NOT NULL, offset_ms INTEGER NOT NULL, PRIMARY KEY (gate_id, boot_id));
    `);
    old.prepare('INSERT INTO boot_offsets VALUES (?, ?, ?)').run('G1', 'b1', BOOT_AT);
    const insert = old.prepare('INSERT INTO entries VALUES (?, 1, ?, ?, ?, ?, ?, ?, 0)');
    for (const e of entries) insert.run('G1', e.seq, e.type, e.punchId, JSON.stringify(e), HASH, DAY);
    old.close();

    const s = new HubStore(path);
    const rows = s.db.prepare('SELECT seq, type, time_ms, worker_id, decision, outcome FROM entries ORDER BY seq').all();
    expect(rows.slice(0, 2)).toEqual([
      { seq: 0, type: 'punch', time_ms: DAY + 7 * H, worker_id: 'W1', decision: 'granted', outcome: null },
      { seq: 1, type: 'passage', time_ms: DAY + 7 * H, worker_id: null, decision: null, outcome: 'confirmed' },
    ]);
    expect(rows[7]).toMatchObject({ seq: 7, outcome: 'interrupted' });
    expect(rows[8]).toMatchObject({ seq: 8, time_ms: DAY + 10 * H, worker_id: 'W3' });
    expect(rows[10]).toMatchObject({ seq: 10, time_ms: null, worker_id: 'W4' });
    const indexes = (s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries'").all() as { name: string }[]).map((r) => r.name);
    expect(indexes).toEqual(expect.arrayContaining(['entries_time', 'entries_undated', 'entries_punch']));
    s.close();

    expect(workerTimes(path)).toEqual([
      { id: 'W1', firstIn: DAY + 7 * H, lastOut: DAY + 17 * H, passages: 2 },
      { id: 'W3', firstIn: DAY + 10 * H, lastOut: null, passages: 1 },
    ]);
    // opening again changes nothing
    const again = new HubStore(path);
    expect(again.db.prepare('SELECT seq, time_ms, worker_id, decision, outcome FROM entries ORDER BY seq').all()).toEqual(
      rows.map(({ type: _t, ...r }) => r),
    );
    again.close();
  });

  it('migrates a database from before re-commissioning through both steps', () => {
    const path = dbPath();
    const old = new Database(path);
    old.exec(CHAINS_AND_ENTRIES_BEFORE_EPOCHS);
    const insert = old.prepare('INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, 0)');
    for (const e of passage(0, 'W1', 'in', synced(DAY + 7 * H))) insert.run('G1', e.seq, e.type, e.punchId, JSON.stringify(e), HASH, DAY);
    old.close();
    new HubStore(path).close();
    expect(workerTimes(path)).toEqual([{ id: 'W1', firstIn: DAY + 7 * H, lastOut: null, passages: 1 }]);
  });

  it('tells the operator to start the hub once when the database has not been migrated yet', () => {
    const path = dbPath();
    const old = new Database(path);
    old.exec(`CREATE TABLE entries (gate_id TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, punch_id TEXT NOT NULL,
      body TEXT NOT NULL, hash TEXT NOT NULL, received_ms INTEGER NOT NULL, quarantined INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (gate_id, epoch, seq))`);
    old.close();
    expect(() => dailyReport(path, '2026-11-21', { nowMs: DAY })).toThrow(/start the hub once/);
  });

  it('places a punch taken before the gate clock was synchronised at its corrected time, the one its platform row gets', () => {
    const path = dbPath();
    const s = new HubStore(path);
    const correction = new BootClockCorrection(s.db);
    // 10:00 and 10:30, clock not synchronised yet: the raw readings say 1970, the real time is unknown
    const early = passage(0, 'W1', 'in', unsynced(DAY + 10 * H));
    store(s, early);
    expect(s.db.prepare('SELECT time_ms FROM entries WHERE seq = 0').get()).toEqual({ time_ms: null });
    expect(workerTimes(path)).toEqual([]);
    expect(workerTimes(path, '1970-01-01')).toEqual([]);

    // a later batch: another unsynchronised punch, then the first synchronised entry of the same boot
    store(s, [...passage(2, 'W2', 'in', unsynced(DAY + 10.5 * H)), ...passage(4, 'W1', 'out', syncedInBoot(DAY + 16 * H))]);
    const times = s.db.prepare('SELECT seq, time_ms FROM entries WHERE type = ? ORDER BY seq').all('punch');
    const real = (e: JournalEntry) => correction.realTimeMs('G1', e.time);
    expect(real(early[0])).toBe(DAY + 10 * H);
    expect(times).toEqual([
      { seq: 0, time_ms: real(early[0]) },
      { seq: 2, time_ms: DAY + 10.5 * H },
      { seq: 4, time_ms: DAY + 16 * H },
    ]);
    s.close();
    expect(workerTimes(path)).toEqual([
      { id: 'W1', firstIn: DAY + 10 * H, lastOut: DAY + 16 * H, passages: 2 },
      { id: 'W2', firstIn: DAY + 10.5 * H, lastOut: null, passages: 1 },
    ]);
  });

  it('finds the day through the time index, not by reading every entry', () => {
    const path = dbPath();
    const s = new HubStore(path);
    const entries: JournalEntry[] = [];
    for (let i = 0; i < 600; i++) entries.push(...passage(i * 2, `W${i % 20}`, i % 2 ? 'out' : 'in', synced(DAY - 5 * 24 * H + i * 0.25 * H)));
    store(s, entries);
    const queue = new UploadQueue(s.db, new ManualClock(DAY));
    queue.migrate();
    for (const e of entries.filter((x): x is PunchEntry => x.type === 'punch')) {
      queue.enqueue({ rowId: e.punchId, gateId: 'G1', workerId: e.workerId ?? '', projectCode: 'P1', teamSysNo: 1, idCardType: '01', idNumber: '11010519491231002X', timeMs: e.time.ms, direction: e.direction, credentialKind: 'card' });
    }
    for (const analysed of [false, true]) {
      if (analysed) s.db.exec('ANALYZE');
      for (const countTimeouts of [false, true]) {
        const plan = (s.db.prepare(`EXPLAIN QUERY PLAN ${passagesQuery(countTimeouts)}`).all(DAY, DAY + 24 * H) as { detail: string }[]).map((r) => r.detail);
        expect(plan).toContainEqual(expect.stringMatching(/^SEARCH p USING INDEX entries_time \(type=\? AND time_ms>\? AND time_ms<\?\)/));
        expect(plan.filter((d) => d.startsWith('SCAN'))).toEqual([]);
      }
      const queuePlan = (s.db.prepare(`EXPLAIN QUERY PLAN ${QUEUE_ROWS_QUERY}`).all(DAY, DAY + 24 * H) as { detail: string }[]).map((r) => r.detail);
      expect(queuePlan).toContainEqual(expect.stringMatching(/^SEARCH upload_rows USING INDEX upload_rows_by_state \(state=\? AND time_ms>\? AND time_ms<\?\)/));
    }
    s.close();
    const r = dailyReport(path, '2026-11-21', { nowMs: DAY + 30 * H });
    expect(r.workers.reduce((n, w) => n + w.passages, 0)).toBe(96);
    expect(r.waiting).toBe(96);
  });
});
