import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { SitegateError } from '../../src/core/errors.js';
import { decryptIdNumber } from '../../src/municipal/national-crypto.js';
import type { FetchFn } from '../../src/municipal/national-http.js';
import { parseRetryAfter } from '../../src/municipal/national-http.js';
import { NationalProfile, type NationalProfileOptions } from '../../src/municipal/national-profile.js';
import { signParams } from '../../src/municipal/national-sign.js';
import type { AttendanceBatch, AttendanceRow } from '../../src/municipal/profile.js';

const SECRET = '0123456789abcdef0123456789abcdef';
const ID = '11010519491231002X';
// 2026-11-21 08:00:00 in Shanghai
const START = Date.UTC(2026, 10, 21, 0, 0, 0);

interface Sent {
  url: string;
  contentType: string;
  body: string;
  form: URLSearchParams;
}

/** A fetch that records what was sent and answers with `reply`. */
function fakeFetch(reply: () => Response | Promise<Response>): { fetch: FetchFn; sent: Sent[] } {
  const sent: Sent[] = [];
  const fetch: FetchFn = async (url, init) => {
    const body = String(init.body);
    const headers = new Headers(init.headers);
    sent.push({ url, contentType: headers.get('content-type') ?? '', body, form: new URLSearchParams(body) });
    return reply();
  };
  return { fetch, sent };
}

function json(body: unknown, init: ResponseInit = {}): Response {
  return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' }, ...init });
}

function profileWith(fetch: FetchFn, extra: Partial<NationalProfileOptions> = {}, clock = new ManualClock(START)) {
  return new NationalProfile({
    baseUrl: 'http://127.0.0.1:9/api',
    appId: 'testappid',
    appSecret: SECRET,
    clock,
    fetch,
    nonce: () => 'abc123',
    ...extra,
  });
}

function row(overrides: Partial<AttendanceRow> = {}): AttendanceRow {
  return { idCardType: '01', idNumber: ID, timeMs: START + 5_000, direction: 'in', ...overrides };
}

function batch(rows: AttendanceRow[]): AttendanceBatch {
  return { projectCode: 'P1', teamSysNo: 7, rows };
}

const okUpload = () => json({ code: 0, message: 'success', data: { requestSerialCode: 'RSC1' } });

describe('national profile: what goes on the wire', () => {
  it('posts a signed urlencoded form with the standard parameters', async () => {
    const { fetch, sent } = fakeFetch(okUpload);
    const reply = await profileWith(fetch).upload(batch([row()]));
    expect(reply).toEqual({ ok: true, value: { requestSerialCode: 'RSC1' } });
    expect(sent).toHaveLength(1);
    const { form, body, contentType, url } = sent[0];
    expect(url).toBe('http://127.0.0.1:9/api');
    expect(contentType).toMatch(/^application\/x-www-form-urlencoded/);
    expect(body).toContain('%7B%22projectCode%22'); // values URL-encoded on the wire
    expect([...form.keys()].sort()).toEqual(['appid', 'data', 'format', 'method', 'nonce', 'sign', 'timestamp', 'version']);
    expect(form.get('method')).toBe('WorkerAttendance.Add');
    expect(form.get('format')).toBe('json');
    expect(form.get('version')).toBe('1.0');
    expect(form.get('nonce')).toBe('abc123');
    expect(form.get('timestamp')).toBe('20261121080000');
    const params = Object.fromEntries(form);
    const { sign, ...unsigned } = params;
    expect(sign).toBe(signParams(unsigned, SECRET));
  });

  it('puts projectCode and teamSysNo on top and formats each row as the standard says', async () => {
    const { fetch, sent } = fakeFetch(okUpload);
    await profileWith(fetch).upload(
      batch([row(), row({ direction: 'out', timeMs: START + 3_600_000, image: '/9j/AA==', channel: 'lane 2', attendType: '03', lng: 121.47, lat: 31.23 })]),
    );
    const data = JSON.parse(sent[0].form.get('data')!);
    expect(data.projectCode).toBe('P1');
    expect(data.teamSysNo).toBe(7);
    expect(data.dataList).toHaveLength(2);
    const [first, second] = data.dataList;
    expect(Object.keys(first).sort()).toEqual(['date', 'direction', 'idCardNumber', 'idCardType']);
    expect(first.idCardNumber).toBe('0whyJ0FnjXE8TQqC953G9I67RW3Um885mYa6LO5bMIo=');
    expect(first.date).toBe('2026-11-21 08:00:05');
    expect(first.direction).toBe('01');
    expect(second).toMatchObject({ date: '2026-11-21 09:00:00', direction: '02', image: '/9j/AA==', channel: 'lane 2', attendType: '03', lng: 121.47, lat: 31.23 });
    expect(decryptIdNumber(second.idCardNumber, SECRET)).toBe(ID);
  });

  it('refuses more than 20 rows, or none, without sending anything', async () => {
    const { fetch, sent } = fakeFetch(okUpload);
    const profile = profileWith(fetch);
    const tooMany = await profile.upload(batch(Array.from({ length: 21 }, () => row())));
    const none = await profile.upload(batch([]));
    expect(tooMany).toMatchObject({ ok: false, kind: 'bad_params' });
    expect(none).toMatchObject({ ok: false, kind: 'bad_params' });
    expect(sent).toHaveLength(0);
    expect((await profile.upload(batch(Array.from({ length: 20 }, () => row())))).ok).toBe(true);
  });

  it('takes other method names, field names and extra signed parameters from its options', async () => {
    const { fetch, sent } = fakeFetch(() => json({ code: 0, message: 'ok', data: { serialNo: 'S9' } }));
    const profile = profileWith(fetch, {
      name: 'variant',
      methods: { upload: 'Attendance.Push' },
      fieldNames: { idCardNumber: 'idNo', requestSerialCode: 'serialNo' },
      extraParams: { token: 'SECURITY-TOKEN' },
    });
    expect(await profile.upload(batch([row()]))).toEqual({ ok: true, value: { requestSerialCode: 'S9' } });
    const params = Object.fromEntries(sent[0].form);
    expect(params.method).toBe('Attendance.Push');
    expect(params.token).toBe('SECURITY-TOKEN');
    const { sign, ...unsigned } = params;
    expect(sign).toBe(signParams(unsigned, SECRET));
    const first = JSON.parse(params.data).dataList[0];
    expect(first.idNo).toBeDefined();
    expect(first.idCardNumber).toBeUndefined();
  });

  it('lets a subclass reshape a row through its hook', async () => {
    class WithPersonType extends NationalProfile {
      protected override buildRow(r: AttendanceRow): Record<string, unknown> {
        return { ...super.buildRow(r), personType: '1' };
      }
    }
    const { fetch, sent } = fakeFetch(okUpload);
    const profile = new WithPersonType({ baseUrl: 'http://127.0.0.1:9/api', appId: 'a', appSecret: SECRET, clock: new ManualClock(), fetch });
    await profile.upload(batch([row()]));
    expect(JSON.parse(sent[0].form.get('data')!).dataList[0].personType).toBe('1');
  });

  it('refuses an app secret the ID cipher cannot use when it is built', () => {
    expect(() => profileWith(fakeFetch(okUpload).fetch, { appSecret: 'abc' })).toThrow(SitegateError);
  });

  it('sends a query as AsyncHandleResult.Query with the serial code in data', async () => {
    const { fetch, sent } = fakeFetch(() =>
      json({ code: 0, message: 'ok', data: { state: 'done', results: [{ index: 0, status: 'duplicate' }] } }),
    );
    const reply = await profileWith(fetch).query('RSC1');
    expect(reply).toEqual({ ok: true, value: { state: 'done', rows: [{ index: 0, status: 'duplicate' }] } });
    expect(sent[0].form.get('method')).toBe('AsyncHandleResult.Query');
    expect(JSON.parse(sent[0].form.get('data')!)).toEqual({ requestSerialCode: 'RSC1' });
  });

  it('reports a query still processing as pending', async () => {
    const { fetch } = fakeFetch(() => json({ code: 0, message: 'ok', data: { state: 'processing', results: [] } }));
    expect(await profileWith(fetch).query('RSC1')).toEqual({ ok: true, value: { state: 'pending' } });
  });
});

describe('national profile: reading replies', () => {
  it.each([
    [-1, 'bad_params'],
    [-2, 'bad_sign'],
    [-3, 'no_permission'],
    [-4, 'ip_not_allowed'],
    [-5, 'rate_limited'],
  ] as const)('maps envelope code %i to %s and keeps the message', async (code, kind) => {
    const { fetch } = fakeFetch(() => json({ code, message: 'the platform says why', data: null }));
    const reply = await profileWith(fetch).upload(batch([row()]));
    expect(reply).toMatchObject({ ok: false, kind, code });
    if (!reply.ok) expect(reply.message).toContain('the platform says why');
  });

  it('treats an unknown envelope code as a bad reply that names the code', async () => {
    const { fetch } = fakeFetch(() => json({ code: -99, message: 'busy', data: null }));
    const reply = await profileWith(fetch).upload(batch([row()]));
    expect(reply).toMatchObject({ ok: false, kind: 'bad_reply', code: -99 });
  });

  it('accepts a code sent as a numeric string', async () => {
    const { fetch } = fakeFetch(() => json({ code: '-2', message: 'sign', data: null }));
    expect(await profileWith(fetch).upload(batch([row()]))).toMatchObject({ ok: false, kind: 'bad_sign', code: -2 });
  });

  it('maps HTTP 429 and 5xx with Retry-After in seconds', async () => {
    const { fetch: f429 } = fakeFetch(() => new Response('slow down', { status: 429, headers: { 'retry-after': '3' } }));
    const { fetch: f502 } = fakeFetch(() => new Response('bad gateway', { status: 502, headers: { 'retry-after': '120' } }));
    expect(await profileWith(f429).upload(batch([row()]))).toMatchObject({ ok: false, kind: 'rate_limited', httpStatus: 429, retryAfterMs: 3000 });
    expect(await profileWith(f502).query('X')).toMatchObject({ ok: false, kind: 'server_error', httpStatus: 502, retryAfterMs: 120_000 });
  });

  it('reads Retry-After given as an HTTP date against the injected clock', async () => {
    const at = new Date(START + 90_000).toUTCString();
    const { fetch } = fakeFetch(() => new Response('', { status: 503, headers: { 'retry-after': at } }));
    expect(await profileWith(fetch).upload(batch([row()]))).toMatchObject({ kind: 'server_error', retryAfterMs: 90_000 });
  });

  it('parses Retry-After strictly', () => {
    expect(parseRetryAfter('7', 0)).toBe(7000);
    expect(parseRetryAfter(null, 0)).toBeUndefined();
    expect(parseRetryAfter('1.5', 0)).toBeUndefined();
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    expect(parseRetryAfter('Sat, 21 Nov 2026 00:00:00 GMT', START + 5000)).toBe(0);
  });

  it('maps HTTP 401/403 without an envelope to no_permission and other non-JSON to bad_reply', async () => {
    const { fetch: f403 } = fakeFetch(() => new Response('forbidden', { status: 403 }));
    const { fetch: f404 } = fakeFetch(() => new Response('not found', { status: 404 }));
    expect(await profileWith(f403).upload(batch([row()]))).toMatchObject({ kind: 'no_permission', httpStatus: 403 });
    expect(await profileWith(f404).upload(batch([row()]))).toMatchObject({ kind: 'bad_reply', httpStatus: 404 });
  });

  it('calls non-JSON, a non-envelope, and a success without a serial code bad replies', async () => {
    const cases: Array<() => Response> = [
      () => new Response('<html>', { status: 200 }),
      () => json({ status: 'ok' }),
      () => json({ code: 0, message: 'ok', data: {} }),
    ];
    for (const reply of cases) {
      const { fetch } = fakeFetch(reply);
      expect(await profileWith(fetch).upload(batch([row()]))).toMatchObject({ ok: false, kind: 'bad_reply' });
    }
    const { fetch } = fakeFetch(() => json({ code: 0, message: 'ok', data: { state: 'finished' } }));
    expect(await profileWith(fetch).query('R')).toMatchObject({ ok: false, kind: 'bad_reply' });
  });

  it('refuses a reply larger than its limit', async () => {
    const { fetch } = fakeFetch(() => json({ code: 0, message: 'x'.repeat(5000), data: { requestSerialCode: 'R' } }));
    expect(await profileWith(fetch, { maxReplyBytes: 1000 }).upload(batch([row()]))).toMatchObject({ ok: false, kind: 'bad_reply' });
  });

  it('gives up after timeoutMs on its clock and reports a timeout', async () => {
    const clock = new ManualClock(START);
    const fetch: FetchFn = (_url, init) =>
      new Promise((_resolve, reject) => init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
    let settled: unknown;
    const pending = profileWith(fetch, { timeoutMs: 5000 }, clock).upload(batch([row()])).then((r) => (settled = r));
    await clock.advance(4999);
    expect(settled).toBeUndefined();
    await clock.advance(1);
    await pending;
    expect(settled).toMatchObject({ ok: false, kind: 'timeout' });
    expect(clock.pendingTimers()).toBe(0);
  });

  it('reports a refused connection as a network failure and clears its timer', async () => {
    const clock = new ManualClock(START);
    const fetch: FetchFn = async () => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    };
    const reply = await profileWith(fetch, {}, clock).upload(batch([row()]));
    expect(reply).toMatchObject({ ok: false, kind: 'network' });
    if (!reply.ok) expect(reply.message).toContain('ECONNREFUSED');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('never puts the plain ID number on the wire', async () => {
    const { fetch, sent } = fakeFetch(okUpload);
    await profileWith(fetch).upload(batch([row()]));
    expect(sent[0].body).not.toContain(ID);
    expect(decodeURIComponent(sent[0].body)).not.toContain(ID);
  });
});
