import type { Database } from 'better-sqlite3';
import type { Clock } from '../core/clock.js';
import { maskIdNumber } from '../core/credential.js';
import type { CredentialKind, Direction } from '../core/entries.js';
import type { AttendanceBatch } from '../municipal/profile.js';

/** One platform row: a granted punch whose passage the hub counts, enriched from the registry. */
export interface PlatformRow {
  /** The punchId: unique, so a punch is queued once however often it arrives. */
  rowId: string;
  gateId: string;
  workerId: string;
  projectCode: string;
  teamSysNo: number;
  idCardType: string;
  /** Stored as given (the hub DB holds the registry anyway); never logged. */
  idNumber: string;
  timeMs: number;
  direction: Direction;
  channel?: string;
  attendType?: string;
  /** base64 JPEG, face punches only */
  image?: string;
  lng?: number;
  lat?: number;
  credentialKind: CredentialKind;
}

export type RowState = 'pending' | 'in_flight' | 'delivered' | 'rejected';

export interface QueuedRow extends PlatformRow {
  state: RowState;
  attempts: number;
  lastError: string | null;
  requestSerialCode: string | null;
  /** 'accepted' | 'duplicate' once delivered; the platform's reason once rejected. */
  result: string | null;
  enqueuedMs: number;
  updatedMs: number;
  settledMs: number | null;
}

/** Rows of one (projectCode, teamSysNo): one platform request. */
export interface UploadBatch {
  projectCode: string;
  teamSysNo: number;
  rows: QueuedRow[];
}

export interface QueueCounts {
  pending: number;
  inFlight: number;
  delivered: number;
  rejected: number;
  /** Punch time of the oldest row not yet delivered or rejected (pending or in flight); null when none. */
  oldestPendingMs: number | null;
}

/** A rejected row as the operator sees it: the ID number masked. */
export interface RejectedRowView {
  rowId: string;
  gateId: string;
  workerId: string;
  projectCode: string;
  teamSysNo: number;
  idNumberMasked: string;
  timeMs: number;
  direction: Direction;
  reason: string;
  attempts: number;
  settledMs: number | null;
}

export type EnqueueOutcome = 'queued' | 'already_queued';

interface DbRow {
  seq: number;
  row_id: string;
  gate_id: string;
  worker_id: string;
  project_code: string;
  team_sys_no: number;
  id_card_type: string;
  id_number: string;
  time_ms: number;
  direction: Direction;
  channel: string | null;
  attend_type: string | null;
  image: string | null;
  lng: number | null;
  lat: number | null;
  credential_kind: CredentialKind;
  state: RowState;
  attempts: number;
  last_error: string | null;
  request_serial_code: string | null;
  result: string | null;
  flight_batch: number | null;
  recovered: number;
  enqueued_ms: number;
  updated_ms: number;
  settled_ms: number | null;
}

const DIRECTIONS: readonly string[] = ['in', 'out'];
const KINDS: readonly string[] = ['card', 'wiegand', 'idcard', 'face'];

/** Most rows one platform request may carry (数据接口标准: dataList ≤ 20). */
export const MAX_ROWS_PER_REQUEST = 20;

/**
 * The hub's queue of platform rows, in the hub's SQLite database. A row moves
 * pending → in_flight → delivered | rejected, or back to pending when a request failed; nothing
 * delivered or rejected moves again. The database is the hub store's; this class owns its tables.
 */
export class UploadQueue {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** Creates the queue's tables; safe to run at every start. */
  migrate(): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS upload_rows (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        row_id TEXT NOT NULL UNIQUE,
        gate_id TEXT NOT NULL,
        worker_id TEXT NOT NULL,
        project_code TEXT NOT NULL,
        team_sys_no INTEGER NOT NULL,
        id_card_type TEXT NOT NULL,
        id_number TEXT NOT NULL,
        time_ms INTEGER NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        channel TEXT,
        attend_type TEXT,
        image TEXT,
        lng REAL,
        lat REAL,
        credential_kind TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'delivered', 'rejected')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        request_serial_code TEXT,
        result TEXT,
        flight_batch INTEGER,
        recovered INTEGER NOT NULL DEFAULT 0,
        enqueued_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        settled_ms INTEGER
      );
      CREATE INDEX IF NOT EXISTS upload_rows_by_state ON upload_rows (state, time_ms, seq);
      CREATE INDEX IF NOT EXISTS upload_rows_by_team ON upload_rows (state, project_code, team_sys_no, time_ms, seq);
      CREATE INDEX IF NOT EXISTS upload_rows_recovered ON upload_rows (state, flight_batch, time_ms, seq) WHERE recovered = 1;
    `);
  }

  /** Queues a row; a second enqueue of the same rowId changes nothing. Throws TypeError on a malformed row. */
  enqueue(row: PlatformRow): EnqueueOutcome {
    checkRow(row);
    const now = this.clock.now();
    const info = this.db
      .prepare(
        `INSERT OR IGNORE INTO upload_rows (row_id, gate_id, worker_id, project_code, team_sys_no, id_card_type,
           id_number, time_ms, direction, channel, attend_type, image, lng, lat, credential_kind, state,
           enqueued_ms, updated_ms)
         VALUES (@rowId, @gateId, @workerId, @projectCode, @teamSysNo, @idCardType, @idNumber, @timeMs,
           @direction, @channel, @attendType, @image, @lng, @lat, @credentialKind, 'pending', @now, @now)`,
      )
      .run({
        rowId: row.rowId,
        gateId: row.gateId,
        workerId: row.workerId,
        projectCode: row.projectCode,
        teamSysNo: row.teamSysNo,
        idCardType: row.idCardType,
        idNumber: row.idNumber,
        timeMs: row.timeMs,
        direction: row.direction,
        channel: row.channel ?? null,
        attendType: row.attendType ?? null,
        image: row.image ?? null,
        lng: row.lng ?? null,
        lat: row.lat ?? null,
        credentialKind: row.credentialKind,
        now,
      });
    return info.changes === 1 ? 'queued' : 'already_queued';
  }

  /**
   * The oldest pending rows of one (projectCode, teamSysNo), at most `max`; null when nothing is
   * pending. A batch recovered after a crash comes first, and alone, exactly as it was sent.
   */
  nextBatch(max = MAX_ROWS_PER_REQUEST): UploadBatch | null {
    if (!Number.isInteger(max) || max < 1) throw new TypeError(`nextBatch: max must be a positive integer, got ${max}`);
    const recovered = this.db
      .prepare(
        `SELECT flight_batch FROM upload_rows WHERE state = 'pending' AND recovered = 1
         ORDER BY flight_batch, time_ms, seq LIMIT 1`,
      )
      .get() as { flight_batch: number } | undefined;
    let rows: DbRow[];
    if (recovered) {
      rows = this.db
        .prepare(
          `SELECT * FROM upload_rows WHERE state = 'pending' AND recovered = 1 AND flight_batch = ?
           ORDER BY time_ms, seq LIMIT ?`,
        )
        .all(recovered.flight_batch, max) as DbRow[];
    } else {
      const oldest = this.db
        .prepare(`SELECT project_code, team_sys_no FROM upload_rows WHERE state = 'pending' ORDER BY time_ms, seq LIMIT 1`)
        .get() as { project_code: string; team_sys_no: number } | undefined;
      if (!oldest) return null;
      rows = this.db
        .prepare(
          `SELECT * FROM upload_rows WHERE state = 'pending' AND project_code = ? AND team_sys_no = ?
           ORDER BY time_ms, seq LIMIT ?`,
        )
        .all(oldest.project_code, oldest.team_sys_no, max) as DbRow[];
    }
    if (rows.length === 0) return null;
    return { projectCode: rows[0].project_code, teamSysNo: rows[0].team_sys_no, rows: rows.map(toQueuedRow) };
  }

  /**
   * Marks rows as one request in flight. `null` before the request is sent; the platform's
   * requestSerialCode once it took the request (its result is then polled).
   */
  markInFlight(rowIds: readonly string[], requestSerialCode: string | null): void {
    this.inTransaction(rowIds, (update) => {
      const batch = this.db
        .prepare(`SELECT MIN(seq) AS b FROM upload_rows WHERE row_id IN (SELECT value FROM json_each(?))`)
        .get(JSON.stringify(rowIds)) as { b: number | null };
      for (const id of rowIds) {
        update(
          `UPDATE upload_rows SET state = 'in_flight', request_serial_code = @code, flight_batch = @batch,
             recovered = 0, updated_ms = @now
           WHERE row_id = @id AND state IN ('pending', 'in_flight')`,
          { id, code: requestSerialCode, batch: batch.b },
        );
      }
    });
  }

  /** Counts one send of these rows (the forwarder counts it just before the pacer's wait for it). */
  recordAttempt(rowIds: readonly string[]): void {
    this.inTransaction(rowIds, (update) => {
      for (const id of rowIds) {
        update(`UPDATE upload_rows SET attempts = attempts + 1, updated_ms = @now WHERE row_id = @id`, { id });
      }
    });
  }

  /** Notes a failed attempt on rows that stay in flight (the batch is retried as it is). */
  recordError(rowIds: readonly string[], error: string): void {
    this.inTransaction(rowIds, (update) => {
      for (const id of rowIds) {
        update(`UPDATE upload_rows SET last_error = @error, updated_ms = @now WHERE row_id = @id`, { id, error });
      }
    });
  }

  markDelivered(rowId: string, result: 'accepted' | 'duplicate'): void {
    this.settle(rowId, 'delivered', result);
  }

  /** Terminal: the row stays in the queue with the platform's reason, for the operator. */
  markRejected(rowId: string, reason: string): void {
    this.settle(rowId, 'rejected', reason);
  }

  /**
   * Puts in-flight rows back to pending (a failed request that is not retried now). `unsent`:
   * the attempt counted ahead of the pacer's wait never went out, so it is taken back.
   */
  returnToPending(rowIds: readonly string[], error: string, options: { unsent?: boolean } = {}): void {
    const unsent = options.unsent ? 1 : 0;
    this.inTransaction(rowIds, (update) => {
      for (const id of rowIds) {
        update(
          `UPDATE upload_rows SET state = 'pending', last_error = @error, request_serial_code = NULL,
             flight_batch = NULL, recovered = 0, attempts = MAX(0, attempts - @unsent), updated_ms = @now
           WHERE row_id = @id AND state = 'in_flight'`,
          { id, error, unsent },
        );
      }
    });
  }

  /**
   * At start-up, after a crash: rows left in flight go back to pending, still grouped, so the
   * next batch re-sends exactly what was in flight (a row the platform already took comes back
   * "duplicate", which counts as delivered). Returns how many rows were recovered.
   */
  recoverInFlight(): number {
    const info = this.db
      .prepare(
        `UPDATE upload_rows SET state = 'pending', recovered = 1, request_serial_code = NULL,
           last_error = COALESCE(last_error, 'in flight at a restart'), updated_ms = ?
         WHERE state = 'in_flight'`,
      )
      .run(this.clock.now());
    return info.changes;
  }

  counts(): QueueCounts {
    const byState = this.db.prepare(`SELECT state, COUNT(*) AS n FROM upload_rows GROUP BY state`).all() as {
      state: RowState;
      n: number;
    }[];
    const n = (s: RowState) => byState.find((r) => r.state === s)?.n ?? 0;
    const oldest = this.db
      .prepare(`SELECT MIN(time_ms) AS t FROM upload_rows WHERE state IN ('pending', 'in_flight')`)
      .get() as { t: number | null };
    return {
      pending: n('pending'),
      inFlight: n('in_flight'),
      delivered: n('delivered'),
      rejected: n('rejected'),
      oldestPendingMs: oldest.t,
    };
  }

  /** The most recently rejected rows, newest first, ID numbers masked. */
  rejectedRows(limit = 50): RejectedRowView[] {
    const rows = this.db
      .prepare(`SELECT * FROM upload_rows WHERE state = 'rejected' ORDER BY settled_ms DESC, seq DESC LIMIT ?`)
      .all(Math.max(0, Math.floor(limit))) as DbRow[];
    return rows.map((r) => ({
      rowId: r.row_id,
      gateId: r.gate_id,
      workerId: r.worker_id,
      projectCode: r.project_code,
      teamSysNo: r.team_sys_no,
      idNumberMasked: maskIdNumber(r.id_number),
      timeMs: r.time_ms,
      direction: r.direction,
      reason: r.result ?? '',
      attempts: r.attempts,
      settledMs: r.settled_ms,
    }));
  }

  /** One row by its id (the operator's look-up and the tests'); null when unknown. */
  get(rowId: string): QueuedRow | null {
    const row = this.db.prepare(`SELECT * FROM upload_rows WHERE row_id = ?`).get(rowId) as DbRow | undefined;
    return row ? toQueuedRow(row) : null;
  }

  /** Runs `fn` in one transaction: a batch's results are one commit (one fsync), not one per row. */
  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  private settle(rowId: string, state: 'delivered' | 'rejected', result: string): void {
    const now = this.clock.now();
    this.db
      .prepare(
        `UPDATE upload_rows SET state = @state, result = @result, flight_batch = NULL, recovered = 0,
           updated_ms = @now, settled_ms = @now
         WHERE row_id = @rowId AND state IN ('pending', 'in_flight')`,
      )
      .run({ rowId, state, result, now });
  }

  private inTransaction(
    rowIds: readonly string[],
    body: (update: (sql: string, params: Record<string, unknown>) => void) => void,
  ): void {
    if (rowIds.length === 0) return;
    const now = this.clock.now();
    const statements = new Map<string, ReturnType<Database['prepare']>>();
    this.db.transaction(() => {
      body((sql, params) => {
        let st = statements.get(sql);
        if (!st) statements.set(sql, (st = this.db.prepare(sql)));
        st.run({ ...params, now });
      });
    })();
  }
}

function toQueuedRow(r: DbRow): QueuedRow {
  const row: QueuedRow = {
    rowId: r.row_id,
    gateId: r.gate_id,
    workerId: r.worker_id,
    projectCode: r.project_code,
    teamSysNo: r.team_sys_no,
    idCardType: r.id_card_type,
    idNumber: r.id_number,
    timeMs: r.time_ms,
    direction: r.direction,
    credentialKind: r.credential_kind,
    state: r.state,
    attempts: r.attempts,
    lastError: r.last_error,
    requestSerialCode: r.request_serial_code,
    result: r.result,
    enqueuedMs: r.enqueued_ms,
    updatedMs: r.updated_ms,
    settledMs: r.settled_ms,
  };
  if (r.channel !== null) row.channel = r.channel;
  if (r.attend_type !== null) row.attendType = r.attend_type;
  if (r.image !== null) row.image = r.image;
  if (r.lng !== null) row.lng = r.lng;
  if (r.lat !== null) row.lat = r.lat;
  return row;
}

/** The request a profile sends for a batch: rows in the profile's terms, nothing hub-internal. */
export function toAttendanceBatch(batch: UploadBatch): AttendanceBatch {
  return {
    projectCode: batch.projectCode,
    teamSysNo: batch.teamSysNo,
    rows: batch.rows.map((r) => {
      const out: AttendanceBatch['rows'][number] = {
        idCardType: r.idCardType,
        idNumber: r.idNumber,
        timeMs: r.timeMs,
        direction: r.direction,
      };
      if (r.image !== undefined) out.image = r.image;
      if (r.channel !== undefined) out.channel = r.channel;
      if (r.attendType !== undefined) out.attendType = r.attendType;
      if (r.lng !== undefined) out.lng = r.lng;
      if (r.lat !== undefined) out.lat = r.lat;
      return out;
    }),
  };
}

function checkRow(row: PlatformRow): void {
  const bad = (what: string) => {
    throw new TypeError(`upload row ${typeof row?.rowId === 'string' ? row.rowId : '?'}: ${what}`);
  };
  if (typeof row !== 'object' || row === null) bad('not an object');
  for (const key of ['rowId', 'gateId', 'workerId', 'projectCode', 'idCardType', 'idNumber'] as const) {
    if (typeof row[key] !== 'string' || row[key].length === 0) bad(`${key} must be a non-empty string`);
  }
  if (!Number.isSafeInteger(row.teamSysNo)) bad('teamSysNo must be an integer');
  if (!Number.isSafeInteger(row.timeMs) || row.timeMs < 0) bad('timeMs must be a non-negative integer (ms)');
  if (!DIRECTIONS.includes(row.direction)) bad(`direction must be "in" or "out"`);
  if (!KINDS.includes(row.credentialKind)) bad('credentialKind must be card, wiegand, idcard or face');
  for (const key of ['channel', 'attendType', 'image'] as const) {
    if (row[key] !== undefined && typeof row[key] !== 'string') bad(`${key} must be a string when given`);
  }
  if (row.lng !== undefined && !(Number.isFinite(row.lng) && Math.abs(row.lng) <= 180)) bad('lng must be -180..180');
  if (row.lat !== undefined && !(Number.isFinite(row.lat) && Math.abs(row.lat) <= 90)) bad('lat must be -90..90');
}
