import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { signParams } from '../national-sign.js';
import { ENVELOPE_CODE, NATIONAL_METHODS, REQUIRED_FORM_PARAMS, type QueryReplyData } from '../national-wire.js';
import { checkAttendanceData, type CheckedRow } from './attendance-check.js';
import { SlidingWindow } from './rate-window.js';

export interface SimApp {
  appId: string;
  appSecret: string;
}

export interface TeamRef {
  projectCode: string;
  teamSysNo: number;
}

export interface WorkerRef extends TeamRef {
  idNumber: string;
}

export type KnownWorkers = WorkerRef[] | ((projectCode: string, teamSysNo: number, idNumber: string) => boolean);

export interface SimulatedPlatformConfig {
  apps: SimApp[];
  rateLimit: { requests: number; windowMs: number };
  allowList: string[];
  resultDelayMs: number;
  /** undefined: every team is known */
  knownTeams?: TeamRef[];
  /** undefined: every worker is known */
  knownWorkers?: KnownWorkers;
  checkIdChecksum: boolean;
  maxStoredResults: number;
  clock: Clock;
}

/** A row the platform stored: tests check "exactly once" against these. */
export interface AcceptedRow extends CheckedRow {
  requestSerialCode: string;
  appId: string;
  projectCode: string;
  teamSysNo: number;
  /** wall clock of the upload, on the simulator's clock */
  atMs: number;
}

export interface SimEnvelope {
  code: number;
  message: string;
  data: unknown;
}

export interface SimReply {
  envelope: SimEnvelope;
  /** set on -5: when the window lets the next request in */
  retryAfterMs?: number;
  overLimit: boolean;
  requestSerialCode?: string;
}

export interface PlatformRowCounters {
  acceptedRows: number;
  duplicateRows: number;
  rejectedRows: number;
}

interface StoredResult {
  appId: string;
  readyAtMono: number;
  results: QueryReplyData['results'];
}

function envelope(code: number, message: string, data: unknown = null): SimReply {
  return { envelope: { code, message, data }, overLimit: false };
}

const TIMESTAMP = /^\d{14}$/;

/**
 * The platform's behaviour behind the HTTP transport: allow-list, rate window, signature,
 * parameters, row checks, de-duplication and asynchronous results. Pure of I/O.
 */
export class SimulatedPlatform {
  readonly accepted: AcceptedRow[] = [];
  readonly rowCounters: PlatformRowCounters = { acceptedRows: 0, duplicateRows: 0, rejectedRows: 0 };
  private readonly apps: Map<string, string>;
  private readonly window: SlidingWindow;
  private readonly allowList: Set<string>;
  private readonly knownTeams?: Set<string>;
  private readonly knownWorkers?: (projectCode: string, teamSysNo: number, idNumber: string) => boolean;
  private readonly seen = new Set<string>();
  private readonly results = new Map<string, StoredResult>();

  constructor(private readonly config: SimulatedPlatformConfig) {
    this.apps = new Map(config.apps.map((a) => [a.appId, a.appSecret]));
    this.window = new SlidingWindow(config.rateLimit.requests, config.rateLimit.windowMs);
    this.allowList = new Set(config.allowList);
    if (config.knownTeams) this.knownTeams = new Set(config.knownTeams.map((t) => `${t.projectCode}|${t.teamSysNo}`));
    const workers = config.knownWorkers;
    if (typeof workers === 'function') this.knownWorkers = workers;
    else if (workers) {
      const set = new Set(workers.map((w) => `${w.projectCode}|${w.teamSysNo}|${w.idNumber}`));
      this.knownWorkers = (p, t, id) => set.has(`${p}|${t}|${id}`);
    }
  }

  handle(form: URLSearchParams, remote: string, contentType: string | undefined): SimReply {
    if (!this.allowList.has(remote)) {
      return envelope(ENVELOPE_CODE.ipNotAllowed, `address ${remote} is not on the allow-list`);
    }
    const appId = form.get('appid') ?? '';
    const admission = this.window.admit(appId || `address:${remote}`, this.config.clock.monotonic());
    if (!admission.admitted) {
      const { windowMs, requests } = this.config.rateLimit;
      return {
        ...envelope(ENVELOPE_CODE.rateLimited, `rate limit: at most ${requests} request(s) per ${windowMs} ms`),
        overLimit: true,
        retryAfterMs: admission.retryAfterMs,
      };
    }
    if (!contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded')) {
      return envelope(ENVELOPE_CODE.badParams, 'content-type: must be application/x-www-form-urlencoded');
    }
    for (const name of REQUIRED_FORM_PARAMS) {
      if (!form.get(name)) return envelope(ENVELOPE_CODE.badParams, `${name}: missing parameter`);
    }
    const params: Record<string, string> = {};
    for (const key of new Set(form.keys())) {
      const values = form.getAll(key);
      if (values.length > 1) return envelope(ENVELOPE_CODE.badParams, `${key}: parameter given ${values.length} times`);
      params[key] = values[0];
    }
    const secret = this.apps.get(appId);
    if (secret === undefined) return envelope(ENVELOPE_CODE.noPermission, `appid ${appId} has no permission (unknown app)`);
    if (!signMatches(params, secret)) return envelope(ENVELOPE_CODE.badSign, 'sign does not match');
    if (params.format !== 'json') return envelope(ENVELOPE_CODE.badParams, 'format: must be json');
    if (!TIMESTAMP.test(params.timestamp)) return envelope(ENVELOPE_CODE.badParams, 'timestamp: must be yyyyMMddHHmmss');
    let data: unknown;
    try {
      data = JSON.parse(params.data);
    } catch {
      return envelope(ENVELOPE_CODE.badParams, 'data: is not JSON');
    }
    if (params.method === NATIONAL_METHODS.upload) return this.upload(appId, secret, data);
    if (params.method === NATIONAL_METHODS.query) return this.query(appId, data);
    return envelope(ENVELOPE_CODE.badParams, `method: unknown method ${params.method}`);
  }

  private upload(appId: string, secret: string, data: unknown): SimReply {
    const checked = checkAttendanceData(data, secret, this.config.checkIdChecksum);
    if (!checked.ok) return envelope(ENVELOPE_CODE.badParams, checked.message);
    const { projectCode, teamSysNo, rows } = checked.value;
    const requestSerialCode = randomUUID().replaceAll('-', '');
    const atMs = this.config.clock.now();
    const teamKnown = !this.knownTeams || this.knownTeams.has(`${projectCode}|${teamSysNo}`);
    const results = rows.map((row, index): QueryReplyData['results'][number] => {
      if (!teamKnown) {
        this.rowCounters.rejectedRows++;
        return { index, status: 'rejected', reason: 'unknown team' };
      }
      if (this.knownWorkers && !this.knownWorkers(projectCode, teamSysNo, row.idNumber)) {
        this.rowCounters.rejectedRows++;
        return { index, status: 'rejected', reason: 'unknown worker' };
      }
      const key = `${row.idNumber}|${row.date}|${row.direction}`;
      if (this.seen.has(key)) {
        this.rowCounters.duplicateRows++;
        return { index, status: 'duplicate' };
      }
      this.seen.add(key);
      this.accepted.push({ ...row, requestSerialCode, appId, projectCode, teamSysNo, atMs });
      this.rowCounters.acceptedRows++;
      return { index, status: 'accepted' };
    });
    this.storeResult(requestSerialCode, {
      appId,
      readyAtMono: this.config.clock.monotonic() + this.config.resultDelayMs,
      results,
    });
    return { ...envelope(ENVELOPE_CODE.ok, 'success', { requestSerialCode }), requestSerialCode };
  }

  private query(appId: string, data: unknown): SimReply {
    const code = typeof data === 'object' && data !== null ? (data as Record<string, unknown>).requestSerialCode : undefined;
    if (typeof code !== 'string' || code === '') return envelope(ENVELOPE_CODE.badParams, 'requestSerialCode: is required');
    const stored = this.results.get(code);
    // Another app's serial code is as unknown as a made-up one.
    if (!stored || stored.appId !== appId) return envelope(ENVELOPE_CODE.badParams, 'requestSerialCode: unknown');
    const done = this.config.clock.monotonic() >= stored.readyAtMono;
    const reply: QueryReplyData = {
      requestSerialCode: code,
      state: done ? 'done' : 'processing',
      results: done ? stored.results : [],
    };
    return { ...envelope(ENVELOPE_CODE.ok, 'success', reply), requestSerialCode: code };
  }

  private storeResult(code: string, result: StoredResult): void {
    this.results.set(code, result);
    while (this.results.size > this.config.maxStoredResults) {
      const oldest = this.results.keys().next().value;
      if (oldest === undefined) break;
      this.results.delete(oldest);
    }
  }
}

function signMatches(params: Record<string, string>, secret: string): boolean {
  const expected = Buffer.from(signParams(params, secret), 'utf8');
  const given = Buffer.from(params.sign.toLowerCase(), 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}
