import { sleep, type Clock } from '../../src/core/clock.js';
import type {
  AttendanceBatch,
  PlatformFailureKind,
  PlatformProfile,
  PlatformReply,
  QueryResult,
  RowResult,
} from '../../src/municipal/profile.js';
import type { PlatformRow } from '../../src/hub/upload-queue.js';

export type ScriptedFailure = {
  ok: false;
  kind: PlatformFailureKind;
  code?: number;
  httpStatus?: number;
  retryAfterMs?: number;
  message: string;
};
/** 'hang': the call never returns (a process that crashed mid-request). */
export type ScriptStep = ScriptedFailure | 'hang';

export interface LoggedRequest {
  kind: 'upload' | 'query';
  atMs: number;
  monoMs: number;
  batch?: AttendanceBatch;
  serial?: string;
}

export const failures = {
  badParams: (message = 'dataList[0].date malformed'): ScriptedFailure => ({ ok: false, kind: 'bad_params', code: -1, message }),
  badSign: (): ScriptedFailure => ({ ok: false, kind: 'bad_sign', code: -2, message: 'sign mismatch' }),
  noPermission: (): ScriptedFailure => ({ ok: false, kind: 'no_permission', code: -3, message: 'no permission' }),
  ipNotAllowed: (): ScriptedFailure => ({ ok: false, kind: 'ip_not_allowed', code: -4, message: 'IP not allowed' }),
  rateLimited: (retryAfterMs?: number): ScriptedFailure => ({
    ok: false,
    kind: 'rate_limited',
    code: -5,
    message: 'too many requests',
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  }),
  serverError: (): ScriptedFailure => ({ ok: false, kind: 'server_error', httpStatus: 502, message: 'bad gateway' }),
  timeout: (): ScriptedFailure => ({ ok: false, kind: 'timeout', message: 'no answer in 10 s' }),
  network: (): ScriptedFailure => ({ ok: false, kind: 'network', message: 'ECONNRESET' }),
  badReply: (): ScriptedFailure => ({ ok: false, kind: 'bad_reply', message: 'not JSON' }),
};

/**
 * A platform written for these tests (not the project's simulator): it records every request
 * with its time, and answers -5 to any request closer than `minSpacingMs` to the previous one,
 * counting it in `overLimit`, so a test audits the pacing by reading the log.
 */
export class FakePlatform implements PlatformProfile {
  readonly name = 'fake';
  readonly log: LoggedRequest[] = [];
  overLimit = 0;
  /** Replies for the next uploads / polls, consumed first; then the platform behaves normally. */
  uploadScript: ScriptStep[] = [];
  queryScript: ScriptStep[] = [];
  /** How many polls of a request answer "pending" before its result is ready. */
  pendingPolls = 0;
  uploadLatencyMs = 0;
  /** idNumber → reason: rows the platform rejects. */
  readonly rejectIds = new Map<string, string>();
  /** (idNumber, date, direction) already on the platform: answered "duplicate". */
  readonly known = new Set<string>();
  private lastMono: number | null = null;
  private serials = 0;
  private readonly pendingResults = new Map<string, { polls: number; rows: RowResult[] }>();

  constructor(
    private readonly clock: Clock,
    readonly minSpacingMs = 1200,
  ) {}

  static key(row: { idNumber: string; timeMs: number; direction: string }): string {
    return `${row.idNumber}|${Math.floor(row.timeMs / 1000)}|${row.direction}`;
  }

  get uploads(): LoggedRequest[] {
    return this.log.filter((r) => r.kind === 'upload');
  }

  /** Smallest gap between two consecutive requests in the log (Infinity with < 2 requests). */
  smallestGapMs(): number {
    let gap = Infinity;
    for (let i = 1; i < this.log.length; i++) gap = Math.min(gap, this.log[i].monoMs - this.log[i - 1].monoMs);
    return gap;
  }

  async upload(batch: AttendanceBatch): Promise<PlatformReply<{ requestSerialCode: string }>> {
    const limited = this.record({ kind: 'upload', batch: structuredClone(batch) });
    if (limited) return limited;
    const step = this.uploadScript.shift();
    if (step === 'hang') return new Promise(() => undefined);
    if (step) return step;
    if (this.uploadLatencyMs > 0) await sleep(this.clock, this.uploadLatencyMs);
    if (batch.rows.length > 20) return failures.badParams('dataList has more than 20 rows');
    const rows: RowResult[] = batch.rows.map((row, index) => {
      const reason = this.rejectIds.get(row.idNumber);
      if (reason) return { index, status: 'rejected', reason };
      const key = FakePlatform.key(row);
      if (this.known.has(key)) return { index, status: 'duplicate' };
      this.known.add(key);
      return { index, status: 'accepted' };
    });
    const requestSerialCode = `S${++this.serials}`;
    this.pendingResults.set(requestSerialCode, { polls: 0, rows });
    return { ok: true, value: { requestSerialCode } };
  }

  async query(requestSerialCode: string): Promise<PlatformReply<QueryResult>> {
    const limited = this.record({ kind: 'query', serial: requestSerialCode });
    if (limited) return limited;
    const step = this.queryScript.shift();
    if (step === 'hang') return new Promise(() => undefined);
    if (step) return step;
    const pending = this.pendingResults.get(requestSerialCode);
    if (!pending) return failures.badParams(`unknown requestSerialCode ${requestSerialCode}`);
    if (pending.polls++ < this.pendingPolls) return { ok: true, value: { state: 'pending' } };
    return { ok: true, value: { state: 'done', rows: pending.rows } };
  }

  /** Logs the request; every request counts against the limit, answered -5 when over it. */
  private record(entry: Omit<LoggedRequest, 'atMs' | 'monoMs'>): ScriptedFailure | null {
    const mono = this.clock.monotonic();
    this.log.push({ ...entry, atMs: this.clock.now(), monoMs: mono });
    const over = this.lastMono !== null && mono - this.lastMono < this.minSpacingMs;
    this.lastMono = mono;
    if (over) {
      this.overLimit++;
      return failures.rateLimited();
    }
    return null;
  }
}

/** A platform row for worker `i` of team `team` (project P1), punch time `timeMs`. */
export function makeRow(i: number, timeMs: number, team = 1, extra: Partial<PlatformRow> = {}): PlatformRow {
  return {
    rowId: `punch-${team}-${i}`,
    gateId: 'gate-1',
    workerId: `w-${team}-${i}`,
    projectCode: 'P1',
    teamSysNo: team,
    idCardType: '01',
    idNumber: `310101199${team}${String(i).padStart(7, '0')}X`,
    timeMs,
    direction: i % 2 === 0 ? 'in' : 'out',
    channel: 'lane-1',
    credentialKind: 'card',
    ...extra,
  };
}
