import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sleep, type Clock } from '../core/clock.js';
import { SitegateError } from '../core/errors.js';
import { ENVELOPE_CODE } from './national-wire.js';
import { FaultQueue, type SimFault, type SimFaultKind } from './sim/faults.js';
import {
  SimulatedPlatform,
  type AcceptedRow,
  type KnownWorkers,
  type SimApp,
  type SimEnvelope,
  type TeamRef,
} from './sim/simulated-platform.js';

export type { AcceptedRow, KnownWorkers, SimApp, TeamRef, WorkerRef } from './sim/simulated-platform.js';
export type { SimFault, SimFaultKind } from './sim/faults.js';

export interface PlatformSimOptions {
  /** Apps the platform knows; anything else gets -3. */
  apps: SimApp[];
  /** Rate window, limit, async results and latency run on it. */
  clock: Clock;
  /** Listen address. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** The one path the API answers on. */
  path?: string;
  /** At most `requests` per `windowMs` per appid, polls included; over it: -5. */
  rateLimit?: { requests: number; windowMs: number };
  /** Remote addresses allowed in; others get -4. */
  allowList?: string[];
  /** Time from an upload until its query says done. */
  resultDelayMs?: number;
  /** Teams the platform knows (rows of others: rejected, "unknown team"); unset = all. */
  knownTeams?: TeamRef[];
  /** Workers the platform knows (others: rejected, "unknown worker"); unset = all. */
  knownWorkers?: KnownWorkers;
  /** Check the ID number's check character as well as its shape. */
  checkIdChecksum?: boolean;
  /** Larger request bodies get -1 with HTTP 413. */
  maxBodyBytes?: number;
  /** Upload results kept for queries; the oldest go first. */
  maxStoredResults?: number;
  /** Called with each request's record as soon as it is known, before the answer is sent (tests). */
  onRequest?: (record: SimRequestRecord) => void;
}

/** Every default of the simulator, in one place. */
export const PLATFORM_SIM_DEFAULTS = {
  host: '127.0.0.1',
  port: 0,
  path: '/api',
  rateLimit: { requests: 1, windowMs: 1200 },
  allowList: ['127.0.0.1', '::1'],
  resultDelayMs: 0,
  checkIdChecksum: true,
  maxBodyBytes: 4 * 1024 * 1024,
  maxStoredResults: 10_000,
} as const;

/** One request as the simulator saw it; polls and faulted requests included. */
export interface SimRequestRecord {
  /** arrival, on the simulator's clock */
  atMs: number;
  method: string | null;
  remote: string;
  appId: string | null;
  /** rows in `dataList`, when there was one */
  rows: number;
  /** envelope code; null when no envelope was sent (fault, HTTP error) */
  code: number | null;
  /** null when no HTTP answer was sent (dropped, held) */
  httpStatus: number | null;
  overLimit: boolean;
  fault?: SimFaultKind;
  requestSerialCode?: string;
  message?: string;
}

export interface PlatformSimCounters {
  requests: number;
  overLimit: number;
  acceptedRows: number;
  duplicateRows: number;
  rejectedRows: number;
  /** envelopes with a code other than 0 */
  errorReplies: number;
  faults: number;
}

function normalizeAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** Reads a body up to `max` bytes; null when it is larger. */
function readBody(req: IncomingMessage, max: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > max) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function rowCountOf(data: string | null): number {
  if (!data) return 0;
  try {
    const parsed = JSON.parse(data) as { dataList?: unknown };
    return Array.isArray(parsed?.dataList) ? parsed.dataList.length : 0;
  } catch {
    return 0;
  }
}

/**
 * The municipal platform for tests and joint-test rehearsals: an HTTP server on loopback that
 * speaks the national shape, with its rate limit, error codes and asynchronous row results, and
 * faults injected at run time. Everything it saw is in `requests` and `accepted`.
 */
export class PlatformSimulator {
  readonly requests: SimRequestRecord[] = [];
  private readonly platform: SimulatedPlatform;
  private readonly faults = new FaultQueue();
  private readonly held = new Set<ServerResponse>();
  private readonly settings: Required<Omit<PlatformSimOptions, 'knownTeams' | 'knownWorkers' | 'apps' | 'clock' | 'onRequest'>>;
  private server: Server | null = null;
  private port: number | null = null;
  private latencyMs = 0;
  private overLimitCount = 0;
  private errorReplyCount = 0;
  private faultCount = 0;

  constructor(private readonly options: PlatformSimOptions) {
    const d = PLATFORM_SIM_DEFAULTS;
    this.settings = {
      host: options.host ?? d.host,
      port: options.port ?? d.port,
      path: options.path ?? d.path,
      rateLimit: options.rateLimit ?? { ...d.rateLimit },
      allowList: options.allowList ?? [...d.allowList],
      resultDelayMs: options.resultDelayMs ?? d.resultDelayMs,
      checkIdChecksum: options.checkIdChecksum ?? d.checkIdChecksum,
      maxBodyBytes: options.maxBodyBytes ?? d.maxBodyBytes,
      maxStoredResults: options.maxStoredResults ?? d.maxStoredResults,
    };
    this.platform = new SimulatedPlatform({
      apps: options.apps,
      rateLimit: this.settings.rateLimit,
      allowList: this.settings.allowList,
      resultDelayMs: this.settings.resultDelayMs,
      knownTeams: options.knownTeams,
      knownWorkers: options.knownWorkers,
      checkIdChecksum: this.settings.checkIdChecksum,
      maxStoredResults: this.settings.maxStoredResults,
      clock: options.clock,
    });
  }

  /** Rows stored, in order: each (idNumber, date, direction) at most once. */
  get accepted(): readonly AcceptedRow[] {
    return this.platform.accepted;
  }

  get counters(): PlatformSimCounters {
    return {
      requests: this.requests.length,
      overLimit: this.overLimitCount,
      ...this.platform.rowCounters,
      errorReplies: this.errorReplyCount,
      faults: this.faultCount,
    };
  }

  /** The endpoint a profile's baseUrl points at. */
  get url(): string {
    if (this.port === null) throw new SitegateError('municipal.sim_not_started', 'the platform simulator is not started');
    const host = this.settings.host.includes(':') ? `[${this.settings.host}]` : this.settings.host;
    return `http://${host}:${this.port}${this.settings.path}`;
  }

  async start(): Promise<{ port: number }> {
    if (this.server) throw new SitegateError('municipal.sim_started', 'the platform simulator is already started');
    const server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.settings.port, this.settings.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return { port: this.port };
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    this.port = null;
    for (const res of this.held) res.destroy();
    this.held.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  // Faults, injected at run time; each queued fault takes the next request, in queue order.

  /** Delay every answer by `ms` on the simulator's clock. */
  setLatency(ms: number): void {
    if (!(ms >= 0)) throw new TypeError(`latency must be ≥ 0 ms, got ${ms}`);
    this.latencyMs = ms;
  }

  /** Answer the next `n` requests with an HTTP error (503 unless told), optionally with Retry-After. */
  failNext(n: number, opts: { status?: number; retryAfter?: string } = {}): void {
    const fault: SimFault = { kind: 'server_error', status: opts.status ?? 503 };
    if (opts.retryAfter !== undefined) fault.retryAfter = opts.retryAfter;
    this.faults.push(fault, n);
  }

  /** Hold the next `n` requests without answering until the client closes the connection. */
  timeoutNext(n: number): void {
    this.faults.push({ kind: 'hold' }, n);
  }

  /** Destroy the connection of the next `n` requests without a reply. */
  dropNext(n: number): void {
    this.faults.push({ kind: 'drop' }, n);
  }

  /** Answer the next `n` requests with something that is not a valid envelope. */
  garbleNext(n: number, form: 'invalid_json' | 'bad_schema' = 'invalid_json'): void {
    this.faults.push({ kind: 'garble', form }, n);
  }

  /** Drops queued faults and sets the latency back to 0. */
  clearFaults(): void {
    this.faults.clear();
    this.latencyMs = 0;
  }

  /** Requests being held open by a `timeoutNext` fault. */
  get heldConnections(): number {
    return this.held.size;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const clock = this.options.clock;
    const base = { atMs: clock.now(), remote: normalizeAddress(req.socket.remoteAddress), method: null, appId: null, rows: 0, overLimit: false };
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    if (req.method !== 'POST' || path !== this.settings.path) {
      req.resume();
      const status = path !== this.settings.path ? 404 : 405;
      this.record({ ...base, code: null, httpStatus: status, message: `${req.method} ${path}` });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 404 ? 'not found' : 'POST only');
      return;
    }
    const body = await readBody(req, this.settings.maxBodyBytes);
    if (body === null) {
      const message = `request body exceeds ${this.settings.maxBodyBytes} bytes`;
      await this.answer(res, 413, { code: ENVELOPE_CODE.badParams, message, data: null }, { ...base, message });
      return;
    }
    const form = new URLSearchParams(body);
    const seen = { ...base, method: form.get('method'), appId: form.get('appid'), rows: rowCountOf(form.get('data')) };

    const fault = this.faults.take();
    if (fault) {
      this.faultCount++;
      await this.applyFault(fault, res, seen);
      return;
    }
    const reply = this.platform.handle(form, seen.remote, req.headers['content-type']);
    if (reply.overLimit) this.overLimitCount++;
    const headers: Record<string, string> = {};
    if (reply.retryAfterMs !== undefined) headers['retry-after'] = String(Math.ceil(reply.retryAfterMs / 1000));
    await this.answer(res, 200, reply.envelope, {
      ...seen,
      overLimit: reply.overLimit,
      ...(reply.requestSerialCode !== undefined ? { requestSerialCode: reply.requestSerialCode } : {}),
    }, headers);
  }

  private async answer(
    res: ServerResponse,
    status: number,
    envelope: SimEnvelope,
    seen: Omit<SimRequestRecord, 'code' | 'httpStatus'>,
    headers: Record<string, string> = {},
  ): Promise<void> {
    if (envelope.code !== 0) this.errorReplyCount++;
    this.record({ ...seen, code: envelope.code, httpStatus: status, ...(envelope.code !== 0 ? { message: envelope.message } : {}) });
    await this.delay();
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers }).end(JSON.stringify(envelope));
  }

  private async applyFault(fault: SimFault, res: ServerResponse, seen: Omit<SimRequestRecord, 'code' | 'httpStatus'>): Promise<void> {
    const record = (httpStatus: number | null) => this.record({ ...seen, code: null, httpStatus, fault: fault.kind });
    switch (fault.kind) {
      case 'drop':
        record(null);
        res.socket?.destroy();
        return;
      case 'hold':
        record(null);
        this.held.add(res);
        res.on('close', () => this.held.delete(res));
        return;
      case 'server_error': {
        record(fault.status);
        await this.delay();
        const headers: Record<string, string> = { 'content-type': 'text/plain' };
        if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
        res.writeHead(fault.status, headers).end('service unavailable');
        return;
      }
      case 'garble':
        record(200);
        await this.delay();
        res
          .writeHead(200, { 'content-type': 'application/json;charset=UTF-8' })
          .end(fault.form === 'invalid_json' ? '<html>gateway says hello' : JSON.stringify({ status: 'ok', result: [] }));
        return;
    }
  }

  private record(r: SimRequestRecord): void {
    this.requests.push(r);
    this.options.onRequest?.(r);
  }

  private async delay(): Promise<void> {
    if (this.latencyMs > 0) await sleep(this.options.clock, this.latencyMs);
  }
}
