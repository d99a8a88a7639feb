import { randomBytes } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { SitegateError } from '../core/errors.js';
import { shanghaiDateTime } from '../core/shanghai-time.js';
import { encryptIdNumber, idCipherFor } from './national-crypto.js';
import { parseRetryAfter, postForm, type FetchFn, type HttpOutcome } from './national-http.js';
import { signParams, timestampOf } from './national-sign.js';
import {
  envelopeSchema,
  FAILURE_KIND_BY_CODE,
  MAX_ROWS_PER_REQUEST,
  NATIONAL_DIRECTION_CODES,
  NATIONAL_FIELD_NAMES,
  NATIONAL_METHODS,
  queryReplyDataSchema,
  type NationalFieldNames,
  type NationalMethods,
} from './national-wire.js';
import type {
  AttendanceBatch,
  AttendanceRow,
  PlatformFailureKind,
  PlatformProfile,
  PlatformReply,
  QueryResult,
} from './profile.js';

export interface NationalProfileOptions {
  /** URL the form is POSTed to (the platform's single API endpoint). */
  baseUrl: string;
  appId: string;
  /** Signs every request and is the ID-number AES key: 16, 24 or 32 UTF-8 bytes. */
  appSecret: string;
  /** `version` parameter. */
  version?: string;
  /** Deadline for one request, headers and body, on `clock`. */
  timeoutMs?: number;
  /** Gives `timestamp` and runs the request deadline. */
  clock: Clock;
  /** Replaces the global fetch (tests, proxies). */
  fetch?: FetchFn;
  /** Makes the `nonce` parameter. */
  nonce?: () => string;
  /** The profile's name in logs and metrics. */
  name?: string;
  methods?: Partial<NationalMethods>;
  fieldNames?: Partial<NationalFieldNames>;
  directionCodes?: { in: string; out: string };
  /** Extra form parameters, signed with the rest (a province's security token, …). */
  extraParams?: Record<string, string>;
  /** Replies larger than this are refused as bad_reply. */
  maxReplyBytes?: number;
}

export const NATIONAL_PROFILE_DEFAULTS = {
  name: 'national',
  version: '1.0',
  timeoutMs: 15_000,
  maxReplyBytes: 1024 * 1024,
} as const;

function defaultNonce(): string {
  return randomBytes(16).toString('hex');
}

type Failure = Extract<PlatformReply<never>, { ok: false }>;

function failure(kind: PlatformFailureKind, message: string, extra: Partial<Failure> = {}): Failure {
  return { ok: false, kind, message, ...extra };
}

/**
 * The national 数据接口标准 profile. A province's clone is configuration over this shape: other
 * method or field names and extra signed parameters through the options, and anything
 * stranger through the protected hooks (buildRow, buildUploadData, buildParams, sign).
 */
export class NationalProfile implements PlatformProfile {
  readonly name: string;
  protected readonly baseUrl: string;
  protected readonly appId: string;
  protected readonly appSecret: string;
  protected readonly version: string;
  protected readonly timeoutMs: number;
  protected readonly maxReplyBytes: number;
  protected readonly clock: Clock;
  protected readonly fetchFn: FetchFn;
  protected readonly makeNonce: () => string;
  protected readonly methods: NationalMethods;
  protected readonly fields: NationalFieldNames;
  protected readonly directionCodes: { in: string; out: string };
  protected readonly extraParams: Record<string, string>;

  constructor(options: NationalProfileOptions) {
    if (!URL.canParse(options.baseUrl)) {
      throw new SitegateError('municipal.bad_option', `baseUrl "${options.baseUrl}" is not a URL`);
    }
    if (!options.appId) throw new SitegateError('municipal.bad_option', 'appId is empty');
    idCipherFor(options.appSecret); // fails early on a secret the cipher cannot use
    const timeoutMs = options.timeoutMs ?? NATIONAL_PROFILE_DEFAULTS.timeoutMs;
    if (!(timeoutMs > 0)) throw new SitegateError('municipal.bad_option', `timeoutMs must be > 0, got ${timeoutMs}`);

    this.name = options.name ?? NATIONAL_PROFILE_DEFAULTS.name;
    this.baseUrl = options.baseUrl;
    this.appId = options.appId;
    this.appSecret = options.appSecret;
    this.version = options.version ?? NATIONAL_PROFILE_DEFAULTS.version;
    this.timeoutMs = timeoutMs;
    this.maxReplyBytes = options.maxReplyBytes ?? NATIONAL_PROFILE_DEFAULTS.maxReplyBytes;
    this.clock = options.clock;
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.makeNonce = options.nonce ?? defaultNonce;
    this.methods = { ...NATIONAL_METHODS, ...options.methods };
    this.fields = { ...NATIONAL_FIELD_NAMES, ...options.fieldNames };
    this.directionCodes = options.directionCodes ?? { ...NATIONAL_DIRECTION_CODES };
    this.extraParams = { ...options.extraParams };
  }

  async upload(batch: AttendanceBatch): Promise<PlatformReply<{ requestSerialCode: string }>> {
    const count = batch.rows.length;
    if (count === 0 || count > MAX_ROWS_PER_REQUEST) {
      return failure('bad_params', `a request carries 1 to ${MAX_ROWS_PER_REQUEST} rows, this batch has ${count} (not sent)`);
    }
    const reply = await this.call(this.methods.upload, this.buildUploadData(batch));
    if (!reply.ok) return reply;
    const code = this.requestSerialCodeOf(reply.value);
    if (code === undefined) {
      return failure('bad_reply', `the ${this.methods.upload} reply has no ${this.fields.requestSerialCode}`, { code: 0 });
    }
    return { ok: true, value: { requestSerialCode: code } };
  }

  async query(requestSerialCode: string): Promise<PlatformReply<QueryResult>> {
    const reply = await this.call(this.methods.query, { [this.fields.requestSerialCode]: requestSerialCode });
    if (!reply.ok) return reply;
    const parsed = queryReplyDataSchema.safeParse(reply.value);
    if (!parsed.success) {
      return failure('bad_reply', `the ${this.methods.query} reply's data does not fit: ${parsed.error.issues[0]?.message ?? 'schema'}`, {
        code: 0,
      });
    }
    if (parsed.data.state === 'processing') return { ok: true, value: { state: 'pending' } };
    return { ok: true, value: { state: 'done', rows: parsed.data.results } };
  }

  /** One row of `dataList`; optional fields only when present. */
  protected buildRow(row: AttendanceRow): Record<string, unknown> {
    const f = this.fields;
    const wire: Record<string, unknown> = {
      [f.idCardType]: row.idCardType,
      [f.idCardNumber]: encryptIdNumber(row.idNumber, this.appSecret),
      [f.date]: shanghaiDateTime(row.timeMs),
      [f.direction]: this.directionCodes[row.direction],
    };
    if (row.image !== undefined) wire[f.image] = row.image;
    if (row.channel !== undefined) wire[f.channel] = row.channel;
    if (row.attendType !== undefined) wire[f.attendType] = row.attendType;
    if (row.lng !== undefined) wire[f.lng] = row.lng;
    if (row.lat !== undefined) wire[f.lat] = row.lat;
    return wire;
  }

  /** The `data` object of an upload: one team's rows. */
  protected buildUploadData(batch: AttendanceBatch): Record<string, unknown> {
    return {
      [this.fields.projectCode]: batch.projectCode,
      [this.fields.teamSysNo]: batch.teamSysNo,
      [this.fields.dataList]: batch.rows.map((row) => this.buildRow(row)),
    };
  }

  /** The unsigned form parameters of one request. */
  protected buildParams(method: string, dataJson: string): Record<string, string> {
    return {
      ...this.extraParams,
      appid: this.appId,
      data: dataJson,
      format: 'json',
      method,
      nonce: this.makeNonce(),
      timestamp: timestampOf(this.clock.now()),
      version: this.version,
    };
  }

  protected sign(params: Record<string, string>): string {
    return signParams(params, this.appSecret);
  }

  /** Signs, POSTs and opens the envelope; the value is the envelope's `data` on code 0. */
  protected async call(method: string, data: Record<string, unknown>): Promise<PlatformReply<unknown>> {
    const params = this.buildParams(method, JSON.stringify(data));
    const form = new URLSearchParams({ ...params, sign: this.sign(params) });
    const outcome = await postForm({
      url: this.baseUrl,
      body: form.toString(),
      timeoutMs: this.timeoutMs,
      maxReplyBytes: this.maxReplyBytes,
      clock: this.clock,
      fetch: this.fetchFn,
    });
    return this.interpret(method, outcome);
  }

  protected interpret(method: string, outcome: HttpOutcome): PlatformReply<unknown> {
    if (!outcome.ok) {
      if (outcome.kind === 'too_large') return failure('bad_reply', `${method}: ${outcome.message}`);
      return failure(outcome.kind, `${method}: ${outcome.message}`);
    }
    const { status } = outcome;
    const retryAfterMs = parseRetryAfter(outcome.retryAfter, this.clock.now());
    const http = { httpStatus: status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
    if (status === 429) return failure('rate_limited', `${method}: HTTP 429 from the platform`, http);
    if (status >= 500) return failure('server_error', `${method}: HTTP ${status} from the platform`, http);

    const envelope = parseEnvelope(outcome.text);
    if (!envelope.ok) {
      if (status === 401 || status === 403) return failure('no_permission', `${method}: HTTP ${status} from the platform`, http);
      const what = status >= 200 && status < 300 ? envelope.message : `HTTP ${status} and ${envelope.message}`;
      return failure('bad_reply', `${method}: ${what}`, http);
    }
    const { code, message, data } = envelope.value;
    if (code === 0) return { ok: true, value: data };
    const kind = FAILURE_KIND_BY_CODE[code];
    const text = message ? `: ${message}` : '';
    if (!kind) return failure('bad_reply', `${method}: unknown platform code ${code}${text}`, { code, ...http });
    return failure(kind, `${method}: platform code ${code} (${kind})${text}`, { code, ...http });
  }

  private requestSerialCodeOf(data: unknown): string | undefined {
    if (typeof data === 'string' && data.length > 0) return data;
    if (typeof data === 'object' && data !== null) {
      const value = (data as Record<string, unknown>)[this.fields.requestSerialCode];
      if (typeof value === 'string' && value.length > 0) return value;
    }
    return undefined;
  }
}

function parseEnvelope(text: string): { ok: true; value: ReturnType<typeof envelopeSchema.parse> } | { ok: false; message: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, message: 'the reply is not JSON' };
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'reply';
    return { ok: false, message: `the reply is not a {code, message, data} envelope (${where}: ${issue?.message ?? 'invalid'})` };
  }
  return { ok: true, value: parsed.data };
}
