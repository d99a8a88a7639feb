// Daily report figures on a big hub database: 1,000,000 journal entries (500,000 punches and
// their passages) over 90 days, and one upload-queue row per punch, written the way the hub
// stores them (HubStore.appendVerified, UploadQueue.enqueue) in one transaction.
//   hub_report_ms_1m_entries             `sitegate hub report` for one day (median of 5)
//   hub_report_json_scan_ms_1m_entries   the same day with the former query (json_extract over every body), once
//   hub_migrate_s_1m_entries             first start of the hub on that database without the time columns
//   hub_report_db_build_s                building the database (not a product figure)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ManualClock } from '../../dist/core/manual-clock.js';
import { dailyReport, shanghaiDayBounds } from '../../dist/hub/report.js';
import { HubStore } from '../../dist/hub/store.js';
import { UploadQueue } from '../../dist/hub/upload-queue.js';

const ENTRIES = 1_000_000;
const DAYS = 90;
const WORKERS = 2_800;
const FIRST_DAY = '2026-08-01';
const REPORT_DAY = '2026-09-15';
const HASH = '0'.repeat(64);
const H = 3600_000;

const r1 = (v: number) => Math.round(v * 10) / 10;

export default async function hubReport(): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-hub-report-'));
  try {
    const path = join(dir, 'hub.db');
    const t0 = performance.now();
    build(path);
    const buildS = (performance.now() - t0) / 1000;

    const { fromMs, toMs } = shanghaiDayBounds(REPORT_DAY);
    const nowMs = toMs + H;
    const runs: number[] = [];
    let passages = 0;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const r = dailyReport(path, REPORT_DAY, { nowMs });
      runs.push(performance.now() - t);
      passages = r.workers.reduce((n, w) => n + w.passages, 0);
    }
    if (passages === 0) throw new Error('hub-report bench: the report day holds no passages');
    runs.sort((a, b) => a - b);

    const scanMs = formerQueryMs(path, fromMs, toMs);
    const migrateS = migrateFromOldSchema(dir, path);
    return {
      hub_report_ms_1m_entries: r1(runs[2]),
      hub_report_json_scan_ms_1m_entries: r1(scanMs),
      hub_migrate_s_1m_entries: r1(migrateS),
      hub_report_db_build_s: r1(buildS),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function build(path: string): void {
  const store = new HubStore(path);
  // the build only: no journal (one transaction into a fresh file), a big page cache; the hub's WAL again after
  store.db.pragma('journal_mode = OFF');
  store.db.pragma('cache_size = -262144');
  const firstMs = shanghaiDayBounds(FIRST_DAY).fromMs;
  const queue = new UploadQueue(store.db, new ManualClock(firstMs));
  queue.migrate();
  const pairs = ENTRIES / 2;
  const perDay = Math.ceil(pairs / DAYS);
  const chunk = 1_000;
  store.transaction(() => {
    for (let start = 0; start < pairs; start += chunk / 2) {
      const entries = [];
      for (let i = start; i < Math.min(pairs, start + chunk / 2); i++) {
        const day = Math.floor(i / perDay);
        const k = i % perDay;
        const workerId = `W${k % WORKERS}`;
        const direction = Math.floor(k / WORKERS) % 2 === 0 ? 'in' : 'out';
        // ins from 06:00, outs from 16:00, spread over four hours
        const ms = firstMs + day * 24 * H + (direction === 'in' ? 6 : 16) * H + ((k * 5_147) % (4 * H));
        const time = { ms, clockSynced: true, bootId: 'boot', monoMs: ms - firstMs };
        const punchId = `p${i}`;
        entries.push(
          {
            type: 'punch', seq: 2 * i, prevHash: HASH, punchId, gateId: 'G1', siteId: 'S1', lane: 'L1', direction, time, workerId,
            credential: { kind: 'card', hmac: HASH }, decision: k % 50 === 0 ? 'denied' : 'granted', reason: 'ok', face: null, photoHash: null,
          },
          { type: 'passage', seq: 2 * i + 1, prevHash: HASH, gateId: 'G1', punchId, outcome: 'confirmed', sensorCount: 1, time },
        );
        queue.enqueue({
          rowId: punchId, gateId: 'G1', workerId, projectCode: 'P1', teamSysNo: 1 + (k % 20), idCardType: '01', idNumber: '11010519491231002X',
          timeMs: ms, direction, credentialKind: 'card',
        });
      }
      const last = entries[entries.length - 1].seq;
      store.appendVerified('G1', 1, entries as never, entries.map(() => HASH), { seq: last, hash: HASH, sigAlg: 'ECDSA-P256-SHA256', sig: 'AA==', certSha256: HASH }, firstMs, false);
    }
    // all but the last day's rows were delivered long ago
    store.db.prepare("UPDATE upload_rows SET state = 'delivered' WHERE time_ms < ?").run(firstMs + (DAYS - 1) * 24 * H);
  });
  store.db.pragma('journal_mode = WAL');
  store.close();
}

/** The report's passage query before the time columns: json_extract over every stored body. */
function formerQueryMs(path: string, fromMs: number, toMs: number): number {
  const db = new Database(path, { readonly: true });
  try {
    const t = performance.now();
    db.prepare(
      `SELECT json_extract(p.body, '$.workerId') AS worker_id, json_extract(p.body, '$.direction') AS direction,
              json_extract(p.body, '$.time.ms') AS time_ms, json_extract(s.body, '$.sensorCount') AS sensor_count
       FROM entries p JOIN entries s ON s.punch_id = p.punch_id AND s.gate_id = p.gate_id AND s.type = 'passage'
       WHERE p.type = 'punch' AND json_extract(p.body, '$.decision') = 'granted'
         AND json_extract(p.body, '$.workerId') IS NOT NULL
         AND json_extract(s.body, '$.outcome') IN ('confirmed')
         AND json_extract(p.body, '$.time.ms') >= ? AND json_extract(p.body, '$.time.ms') < ?
       ORDER BY time_ms`,
    ).all(fromMs, toMs);
    return performance.now() - t;
  } finally {
    db.close();
  }
}

/** A copy of the entries in the schema from before the time columns, then the hub's first start on it. */
function migrateFromOldSchema(dir: string, path: string): number {
  const oldPath = join(dir, 'old.db');
  const old = new Database(oldPath);
  old.exec(`
    CREATE TABLE entries (gate_id TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, punch_id TEXT NOT NULL,
      body TEXT NOT NULL, hash TEXT NOT NULL, received_ms INTEGER NOT NULL, quarantined INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (gate_id, epoch, seq));
    CREATE INDEX entries_punch ON entries (punch_id, type);
  `);
  old.exec(`ATTACH DATABASE '${path.replaceAll("'", "''")}' AS cur`);
  old.exec('INSERT INTO entries SELECT gate_id, epoch, seq, type, punch_id, body, hash, received_ms, quarantined FROM cur.entries');
  old.exec('DETACH DATABASE cur');
  old.close();
  const t = performance.now();
  new HubStore(oldPath).close();
  return (performance.now() - t) / 1000;
}
