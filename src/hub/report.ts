import Database from 'better-sqlite3';
import { SitegateError } from '../core/errors.js';
import { shanghaiDateTime } from '../core/shanghai-time.js';

/** What the report knows of a worker besides the punches (from the registry). */
export interface ReportWorkerInfo {
  name?: string;
  projectCode: string;
  teamSysNo: number;
}

export interface WorkerDay {
  workerId: string;
  name: string | null;
  projectCode: string | null;
  teamSysNo: number | null;
  /** first passage in / last passage out, ms; null when there was none */
  firstInMs: number | null;
  lastOutMs: number | null;
  /** sum of the in→out intervals inside the day; an interval still open ends at `untilMs` */
  hoursOnSite: number;
  passages: number;
  /** of those, passages on which the sensor saw more than one person (someone followed this worker through) */
  tailgating: number;
  /** still on site at the end of the period looked at (an "in" without its "out") */
  onSite: boolean;
  /** rows of this day not yet delivered to the platform */
  waiting: number;
  rejected: { timeMs: number; direction: string; reason: string }[];
}

export interface TeamDay {
  projectCode: string | null;
  teamSysNo: number | null;
  workers: number;
  firstInMs: number | null;
  lastOutMs: number | null;
  hoursOnSite: number;
  waiting: number;
  rejected: number;
}

export interface DailyReport {
  date: string;
  fromMs: number;
  toMs: number;
  workers: WorkerDay[];
  teams: TeamDay[];
  /** rows of the day still waiting for the platform, all workers */
  waiting: number;
  oldestWaitingMs: number | null;
}

const OFFSET_MS = 8 * 3600_000;
const DAY_MS = 24 * 3600_000;

/** [from, to) of an Asia/Shanghai calendar day `yyyy-MM-dd`. */
export function shanghaiDayBounds(date: string): { fromMs: number; toMs: number } {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const from = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - OFFSET_MS : NaN;
  if (!m || Number.isNaN(from) || new Date(from + OFFSET_MS).toISOString().slice(0, 10) !== date) {
    throw new SitegateError('report_bad_date', `--date must be a calendar day yyyy-MM-dd, got "${date}"`);
  }
  return { fromMs: from, toMs: from + DAY_MS };
}

interface PassageRow {
  worker_id: string;
  direction: 'in' | 'out';
  time_ms: number;
  sensor_count: number | null;
}

/**
 * The granted punches of [from, to) whose passage the turnstile confirmed (or timed out, with
 * `countTimeouts`), in time order. The time
 * is the punch's real time column (time_ms, see entry-columns.ts), the one its platform row carries;
 * the range is served by the entries_time index.
 */
export function passagesQuery(countTimeouts: boolean): string {
  const outcomes = countTimeouts ? `('confirmed', 'timeout')` : `('confirmed')`;
  return `SELECT p.worker_id AS worker_id, json_extract(p.body, '$.direction') AS direction,
            p.time_ms AS time_ms, json_extract(s.body, '$.sensorCount') AS sensor_count
     FROM entries p JOIN entries s ON s.punch_id = p.punch_id AND s.gate_id = p.gate_id AND s.type = 'passage'
     WHERE p.type = 'punch' AND p.time_ms >= ? AND p.time_ms < ?
       AND p.decision = 'granted' AND p.worker_id IS NOT NULL
       AND s.outcome IN ${outcomes}
     ORDER BY p.time_ms, p.rowid`;
}

/**
 * The upload queue's rows of [from, to), in the order they were queued. The state list is every
 * state the table allows, so that the range is served by upload_rows_by_state (state, time_ms, seq).
 */
export const QUEUE_ROWS_QUERY = `SELECT worker_id, project_code, team_sys_no, state, time_ms, direction, result FROM upload_rows
   WHERE state IN ('pending', 'in_flight', 'delivered', 'rejected') AND time_ms >= ? AND time_ms < ?
   ORDER BY seq`;

/**
 * A day's attendance from the hub's database, opened read-only: per worker and per team the
 * first in, the last out and the hours on site (Asia/Shanghai day), and what still waits for the
 * platform. A passage counts when its punch was granted and the turnstile confirmed it (with
 * `countTimeouts`, a timed-out passage too, as the platform rows do).
 */
export function dailyReport(
  dbPath: string,
  date: string,
  opts: { nowMs: number; workers?: ReadonlyMap<string, ReportWorkerInfo>; countTimeouts?: boolean },
): DailyReport {
  const { fromMs, toMs } = shanghaiDayBounds(date);
  let db: Database.Database;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new SitegateError('report_db_unreadable', `cannot open the hub database ${dbPath} read-only: ${(err as Error).message}`);
  }
  try {
    const columns = (db.prepare('PRAGMA table_info(entries)').all() as { name: string }[]).map((c) => c.name);
    if (columns.length && !columns.includes('time_ms')) {
      throw new SitegateError('report_db_not_migrated', `the hub database ${dbPath} is from an older hub: start the hub once (it adds the time columns), then run the report again`);
    }
    return build(db, date, fromMs, toMs, opts);
  } finally {
    db.close();
  }
}

function build(
  db: Database.Database,
  date: string,
  fromMs: number,
  toMs: number,
  opts: { nowMs: number; workers?: ReadonlyMap<string, ReportWorkerInfo>; countTimeouts?: boolean },
): DailyReport {
  const passages = db.prepare(passagesQuery(opts.countTimeouts ?? false)).all(fromMs, toMs) as PassageRow[];
  const hasQueue = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'upload_rows'`).get() !== undefined;
  const queueRows = hasQueue
    ? (db.prepare(QUEUE_ROWS_QUERY).all(fromMs, toMs) as { worker_id: string; project_code: string; team_sys_no: number; state: string; time_ms: number; direction: string; result: string | null }[])
    : [];
  const until = Math.min(toMs, Math.max(fromMs, opts.nowMs));

  const byWorker = new Map<string, WorkerDay>();
  const worker = (id: string): WorkerDay => {
    let w = byWorker.get(id);
    if (!w) {
      const info = opts.workers?.get(id);
      w = {
        workerId: id, name: info?.name ?? null, projectCode: info?.projectCode ?? null, teamSysNo: info?.teamSysNo ?? null,
        firstInMs: null, lastOutMs: null, hoursOnSite: 0, passages: 0, tailgating: 0, onSite: false, waiting: 0, rejected: [],
      };
      byWorker.set(id, w);
    }
    return w;
  };

  const openSince = new Map<string, number>();
  const spentMs = new Map<string, number>();
  for (const p of passages) {
    const w = worker(p.worker_id);
    w.passages++;
    if ((p.sensor_count ?? 0) >= 2) w.tailgating++;
    if (p.direction === 'in') {
      if (w.firstInMs === null) w.firstInMs = p.time_ms;
      if (!openSince.has(p.worker_id)) openSince.set(p.worker_id, p.time_ms);
    } else {
      w.lastOutMs = p.time_ms;
      // an "out" with no "in" today: the worker came in the day before (a night shift)
      const since = openSince.get(p.worker_id) ?? fromMs;
      spentMs.set(p.worker_id, (spentMs.get(p.worker_id) ?? 0) + (p.time_ms - since));
      openSince.delete(p.worker_id);
    }
  }
  for (const [id, since] of openSince) {
    spentMs.set(id, (spentMs.get(id) ?? 0) + Math.max(0, until - since));
    worker(id).onSite = true;
  }
  for (const [id, ms] of spentMs) worker(id).hoursOnSite = round2(ms / 3600_000);

  let waiting = 0;
  let oldestWaitingMs: number | null = null;
  for (const r of queueRows) {
    const w = worker(r.worker_id);
    w.projectCode ??= r.project_code;
    w.teamSysNo ??= r.team_sys_no;
    if (r.state === 'pending' || r.state === 'in_flight') {
      w.waiting++;
      waiting++;
      oldestWaitingMs = oldestWaitingMs === null ? r.time_ms : Math.min(oldestWaitingMs, r.time_ms);
    } else if (r.state === 'rejected') {
      w.rejected.push({ timeMs: r.time_ms, direction: r.direction, reason: r.result ?? '' });
    }
  }

  const workers = [...byWorker.values()].sort(
    (a, b) => (a.projectCode ?? '').localeCompare(b.projectCode ?? '') || (a.teamSysNo ?? 0) - (b.teamSysNo ?? 0) || a.workerId.localeCompare(b.workerId),
  );
  const teams = new Map<string, TeamDay>();
  for (const w of workers) {
    const key = `${w.projectCode}|${w.teamSysNo}`;
    let t = teams.get(key);
    if (!t) {
      t = { projectCode: w.projectCode, teamSysNo: w.teamSysNo, workers: 0, firstInMs: null, lastOutMs: null, hoursOnSite: 0, waiting: 0, rejected: 0 };
      teams.set(key, t);
    }
    if (w.passages > 0) t.workers++;
    if (w.firstInMs !== null) t.firstInMs = t.firstInMs === null ? w.firstInMs : Math.min(t.firstInMs, w.firstInMs);
    if (w.lastOutMs !== null) t.lastOutMs = t.lastOutMs === null ? w.lastOutMs : Math.max(t.lastOutMs, w.lastOutMs);
    t.hoursOnSite = round2(t.hoursOnSite + w.hoursOnSite);
    t.waiting += w.waiting;
    t.rejected += w.rejected.length;
  }
  return { date, fromMs, toMs, workers, teams: [...teams.values()], waiting, oldestWaitingMs };
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

const time = (ms: number | null) => (ms === null ? '' : shanghaiDateTime(ms).slice(11));

/** CSV: one section per worker, then one per team; times in Asia/Shanghai. */
export function reportCsv(r: DailyReport): string {
  const esc = (v: unknown) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const lines = [['date', 'kind', 'projectCode', 'teamSysNo', 'workerId', 'name', 'workers', 'firstIn', 'lastOut', 'hoursOnSite', 'onSite', 'waiting', 'rejected'].join(',')];
  for (const w of r.workers) {
    lines.push([r.date, 'worker', w.projectCode, w.teamSysNo, w.workerId, w.name, 1, time(w.firstInMs), time(w.lastOutMs), w.hoursOnSite, w.onSite, w.waiting, w.rejected.length].map(esc).join(','));
  }
  for (const t of r.teams) {
    lines.push([r.date, 'team', t.projectCode, t.teamSysNo, '', '', t.workers, time(t.firstInMs), time(t.lastOutMs), t.hoursOnSite, '', t.waiting, t.rejected].map(esc).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** A plain-text table for a terminal. */
export function reportText(r: DailyReport): string {
  const out: string[] = [`Attendance ${r.date} (Asia/Shanghai)`, ''];
  const table = (head: string[], rows: (string | number)[][]) => {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
    const line = (cells: (string | number)[]) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
    out.push(line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), '');
  };
  table(
    ['worker', 'name', 'team', 'first in', 'last out', 'hours', 'waiting', 'rejected'],
    r.workers.map((w) => [w.workerId, w.name ?? '', `${w.projectCode ?? '?'}/${w.teamSysNo ?? '?'}`, time(w.firstInMs), w.onSite ? '(on site)' : time(w.lastOutMs), w.hoursOnSite.toFixed(2), w.waiting, w.rejected.length]),
  );
  table(
    ['team', 'workers', 'first in', 'last out', 'hours', 'waiting', 'rejected'],
    r.teams.map((t) => [`${t.projectCode ?? '?'}/${t.teamSysNo ?? '?'}`, t.workers, time(t.firstInMs), time(t.lastOutMs), t.hoursOnSite.toFixed(2), t.waiting, t.rejected]),
  );
  const rejected = r.workers.flatMap((w) => w.rejected.map((x) => `  ${w.workerId} ${time(x.timeMs)} ${x.direction}: ${x.reason}`));
  out.push(`Waiting for the platform: ${r.waiting} row(s)${r.oldestWaitingMs !== null ? `, oldest ${shanghaiDateTime(r.oldestWaitingMs)}` : ''}`);
  if (rejected.length) out.push('Rejected by the platform:', ...rejected);
  const tailgated = r.workers.filter((w) => w.tailgating > 0).map((w) => `  ${w.workerId} ${w.name ?? ''}: ${w.tailgating} passage(s)`);
  if (tailgated.length) out.push('Tail-gating (more than one person on one release):', ...tailgated);
  return `${out.join('\n')}\n`;
}
