import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { NationalProfile, type NationalProfileOptions } from '../../src/municipal/national-profile.js';
import { PlatformSimulator, type PlatformSimOptions } from '../../src/municipal/platform-sim.js';
import type { AttendanceBatch, AttendanceRow } from '../../src/municipal/profile.js';
import { idNumberFrom } from '../../src/core/id-number.js';

const APP = 'site-app';
const SECRET = '0123456789abcdef0123456789abcdef';
const START = Date.UTC(2026, 10, 21, 0, 0, 0); // 08:00 in Shanghai
const WINDOW = 1200;
const ID_A = '11010519491231002X';
const ID_B = idNumberFrom('31010119900101123');

let clock: ManualClock;
let sim: PlatformSimulator;

async function startSim(options: Partial<PlatformSimOptions> = {}): Promise<PlatformSimulator> {
  await sim?.stop();
  sim = new PlatformSimulator({ apps: [{ appId: APP, appSecret: SECRET }], clock, ...options });
  await sim.start();
  return sim;
}

function profile(options: Partial<NationalProfileOptions> = {}): NationalProfile {
  return new NationalProfile({ baseUrl: sim.url, appId: APP, appSecret: SECRET, clock, timeoutMs: 5000, ...options });
}

function row(overrides: Partial<AttendanceRow> = {}): AttendanceRow {
  return { idCardType: '01', idNumber: ID_A, timeMs: START - 60_000, direction: 'in', channel: 'lane 1', ...overrides };
}

function batch(rows: AttendanceRow[], teamSysNo = 7): AttendanceBatch {
  return { projectCode: 'P1', teamSysNo, rows };
}

/** Lets the event loop turn (real loopback I/O) until `cond` holds; no timing involved. */
async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error(`never happened: ${what}`);
}

/** Moves past the rate window so the next request is admitted. */
const nextWindow = () => clock.advance(WINDOW);

async function uploadOk(p: NationalProfile, b: AttendanceBatch): Promise<string> {
  const reply = await p.upload(b);
  if (!reply.ok) throw new Error(`upload failed: ${reply.kind} ${reply.message}`);
  await nextWindow();
  return reply.value.requestSerialCode;
}

beforeEach(async () => {
  clock = new ManualClock(START);
  await startSim();
});

afterEach(async () => {
  await sim.stop();
});

describe('profile against the simulator: the normal path', () => {
  it('uploads a row, and the query reports it accepted; the platform stored it once', async () => {
    const p = profile();
    const code = await uploadOk(p, batch([row()]));
    const result = await p.query(code);
    expect(result).toEqual({ ok: true, value: { state: 'done', rows: [{ index: 0, status: 'accepted' }] } });
    expect(sim.accepted).toHaveLength(1);
    expect(sim.accepted[0]).toMatchObject({
      projectCode: 'P1',
      teamSysNo: 7,
      idNumber: ID_A,
      idCardType: '01',
      date: '2026-11-21 07:59:00',
      direction: '01',
      channel: 'lane 1',
      requestSerialCode: code,
    });
    expect(sim.requests.map((r) => [r.method, r.rows, r.code, r.httpStatus, r.appId])).toEqual([
      ['WorkerAttendance.Add', 1, 0, 200, APP],
      ['AsyncHandleResult.Query', 0, 0, 200, APP],
    ]);
    expect(sim.requests[0].atMs).toBe(START);
    expect(sim.requests[1].atMs).toBe(START + WINDOW);
    expect(sim.counters).toMatchObject({ requests: 2, acceptedRows: 1, duplicateRows: 0, overLimit: 0 });
  });

  it('answers a re-sent row as duplicate and stores it only once', async () => {
    const p = profile();
    await uploadOk(p, batch([row()]));
    const again = await uploadOk(p, batch([row(), row({ direction: 'out' }), row({ idNumber: ID_B })]));
    const result = await p.query(again);
    expect(result).toEqual({
      ok: true,
      value: {
        state: 'done',
        rows: [
          { index: 0, status: 'duplicate' },
          { index: 1, status: 'accepted' },
          { index: 2, status: 'accepted' },
        ],
      },
    });
    expect(sim.accepted.filter((a) => a.idNumber === ID_A && a.direction === '01')).toHaveLength(1);
    expect(sim.accepted).toHaveLength(3);
    expect(sim.counters.duplicateRows).toBe(1);
  });

  it('says pending until the result delay has passed on its clock', async () => {
    await startSim({ resultDelayMs: 5000 });
    const p = profile();
    const code = await uploadOk(p, batch([row()]));
    expect(await p.query(code)).toEqual({ ok: true, value: { state: 'pending' } });
    await clock.advance(5000);
    expect(await p.query(code)).toMatchObject({ ok: true, value: { state: 'done' } });
  });

  it('rejects rows of unknown workers and unknown teams with a reason', async () => {
    await startSim({
      knownTeams: [{ projectCode: 'P1', teamSysNo: 7 }],
      knownWorkers: [{ projectCode: 'P1', teamSysNo: 7, idNumber: ID_A }],
    });
    const p = profile();
    const code1 = await uploadOk(p, batch([row(), row({ idNumber: ID_B })]));
    const code2 = await uploadOk(p, batch([row({ direction: 'out' })], 8));
    expect(await p.query(code1)).toMatchObject({
      value: { rows: [{ index: 0, status: 'accepted' }, { index: 1, status: 'rejected', reason: 'unknown worker' }] },
    });
    await nextWindow();
    expect(await p.query(code2)).toMatchObject({ value: { rows: [{ index: 0, status: 'rejected', reason: 'unknown team' }] } });
    expect(sim.accepted).toHaveLength(1);
    expect(sim.counters.rejectedRows).toBe(2);
  });

  it('does not reveal another app’s serial code, nor a made-up one', async () => {
    await startSim({ apps: [{ appId: APP, appSecret: SECRET }, { appId: 'other', appSecret: 'fedcba9876543210fedcba9876543210' }] });
    const code = await uploadOk(profile(), batch([row()]));
    const other = profile({ appId: 'other', appSecret: 'fedcba9876543210fedcba9876543210' });
    expect(await other.query(code)).toMatchObject({ ok: false, kind: 'bad_params', code: -1 });
    await nextWindow();
    expect(await profile().query('no-such-code')).toMatchObject({ ok: false, kind: 'bad_params', code: -1 });
  });
});

describe('profile against the simulator: refusals', () => {
  it('answers a wrong secret with -2 bad_sign and stores nothing', async () => {
    const reply = await profile({ appSecret: 'fedcba9876543210fedcba9876543210' }).upload(batch([row()]));
    expect(reply).toMatchObject({ ok: false, kind: 'bad_sign', code: -2 });
    expect(sim.accepted).toHaveLength(0);
    expect(sim.requests[0].code).toBe(-2);
  });

  it('answers an unknown app with -3 no_permission', async () => {
    const reply = await profile({ appId: 'nobody' }).upload(batch([row()]));
    expect(reply).toMatchObject({ ok: false, kind: 'no_permission', code: -3 });
  });

  it('answers an address off the allow-list with -4 ip_not_allowed', async () => {
    await startSim({ allowList: ['10.20.30.40'] });
    const reply = await profile().upload(batch([row()]));
    expect(reply).toMatchObject({ ok: false, kind: 'ip_not_allowed', code: -4 });
    expect(sim.requests[0].remote).toBe('127.0.0.1');
  });

  it('answers a second request inside the window with -5 and records it as over the limit', async () => {
    const p = profile();
    const first = await p.upload(batch([row()]));
    expect(first.ok).toBe(true);
    const second = await p.query(first.ok ? first.value.requestSerialCode : '');
    expect(second).toMatchObject({ ok: false, kind: 'rate_limited', code: -5, retryAfterMs: 2000 });
    expect(sim.requests.map((r) => r.overLimit)).toEqual([false, true]);
    expect(sim.requests[1]).toMatchObject({ method: 'AsyncHandleResult.Query', code: -5 });
    expect(sim.counters.overLimit).toBe(1);

    // the refused request did not count: one window after the first, the next gets in
    await clock.advance(WINDOW - 1);
    expect(await p.query(first.ok ? first.value.requestSerialCode : '')).toMatchObject({ kind: 'rate_limited' });
    await clock.advance(1);
    expect(await p.query(first.ok ? first.value.requestSerialCode : '')).toMatchObject({ ok: true });
    expect(sim.counters.overLimit).toBe(2);
  });

  it('lets N requests into a window of W and no more', async () => {
    await startSim({ rateLimit: { requests: 3, windowMs: 10_000 } });
    const p = profile();
    const replies = [];
    for (let i = 0; i < 4; i++) {
      replies.push(await p.upload(batch([row({ timeMs: START - 60_000 * (i + 1) })])));
      await clock.advance(1000);
    }
    expect(replies.map((r) => (r.ok ? 'ok' : r.kind))).toEqual(['ok', 'ok', 'ok', 'rate_limited']);
    expect(sim.accepted).toHaveLength(3);
  });

  it.each([
    ['direction', { directionCodes: { in: '1', out: '2' } }, {}, 'dataList[0].direction'],
    ['ID number', {}, { idNumber: '110105194912310021' }, 'dataList[0].idCardNumber'],
    ['image', {}, { image: Buffer.from('GIF89a').toString('base64') }, 'dataList[0].image'],
  ] as const)('answers a malformed %s with -1 naming the field', async (_what, profileOpts, rowOpts, field) => {
    const reply = await profile(profileOpts).upload(batch([row(rowOpts)]));
    expect(reply).toMatchObject({ ok: false, kind: 'bad_params', code: -1 });
    if (!reply.ok) expect(reply.message).toContain(field);
    expect(sim.accepted).toHaveLength(0);
  });

  it('answers a malformed date, or a missing projectCode, with -1 naming the field', async () => {
    class BadDate extends NationalProfile {
      protected override buildRow(r: AttendanceRow): Record<string, unknown> {
        return { ...super.buildRow(r), date: '2026/11/21 08:00' };
      }
    }
    const badDate = await new BadDate({ baseUrl: sim.url, appId: APP, appSecret: SECRET, clock }).upload(batch([row()]));
    expect(badDate).toMatchObject({ kind: 'bad_params' });
    if (!badDate.ok) expect(badDate.message).toContain('dataList[0].date');
    await nextWindow();
    const noProject = await profile().upload({ projectCode: '', teamSysNo: 7, rows: [row()] });
    expect(noProject).toMatchObject({ kind: 'bad_params' });
    if (!noProject.ok) expect(noProject.message).toContain('projectCode');
  });

  it('answers a request to another path with 404, which the profile calls a bad reply', async () => {
    const reply = await profile({ baseUrl: sim.url.replace('/api', '/elsewhere') }).upload(batch([row()]));
    expect(reply).toMatchObject({ ok: false, kind: 'bad_reply', httpStatus: 404 });
  });
});

describe('profile against the simulator: injected faults', () => {
  it('maps an injected 503 to server_error with the Retry-After it carried', async () => {
    sim.failNext(1, { retryAfter: '7' });
    const reply = await profile().upload(batch([row()]));
    expect(reply).toMatchObject({ ok: false, kind: 'server_error', httpStatus: 503, retryAfterMs: 7000 });
    expect(sim.requests[0]).toMatchObject({ fault: 'server_error', httpStatus: 503, code: null, rows: 1 });
    expect(sim.accepted).toHaveLength(0);
    // the fault was used up: the next request is served
    expect(await profile().upload(batch([row()]))).toMatchObject({ ok: true });
  });

  it('maps a dropped connection to network', async () => {
    sim.dropNext(1);
    const reply = await profile().upload(batch([row()]));
    expect(reply).toMatchObject({ ok: false, kind: 'network' });
    expect(sim.requests[0]).toMatchObject({ fault: 'drop', httpStatus: null });
  });

  it('maps a held request to timeout once timeoutMs passes on the clock, and the connection is released', async () => {
    sim.timeoutNext(1);
    let settled: unknown;
    const pending = profile({ timeoutMs: 5000 })
      .upload(batch([row()]))
      .then((r) => (settled = r));
    await waitFor(() => sim.heldConnections === 1, 'the simulator holds the request');
    await clock.advance(4999);
    expect(settled).toBeUndefined();
    await clock.advance(1);
    await pending;
    expect(settled).toMatchObject({ ok: false, kind: 'timeout' });
    await waitFor(() => sim.heldConnections === 0, 'the held connection is closed');
    expect(sim.requests[0]).toMatchObject({ fault: 'hold', httpStatus: null });
  });

  it('maps invalid JSON and a non-envelope JSON reply to bad_reply', async () => {
    sim.garbleNext(1, 'invalid_json');
    sim.garbleNext(1, 'bad_schema');
    const p = profile();
    expect(await p.upload(batch([row()]))).toMatchObject({ ok: false, kind: 'bad_reply' });
    expect(await p.upload(batch([row()]))).toMatchObject({ ok: false, kind: 'bad_reply' });
    expect(sim.counters.faults).toBe(2);
  });

  it('delays its answers by the injected latency on its clock', async () => {
    sim.setLatency(3000);
    let settled: unknown;
    const pending = profile({ timeoutMs: 10_000 })
      .upload(batch([row()]))
      .then((r) => (settled = r));
    await waitFor(() => sim.requests.length === 1, 'the simulator has the request');
    await clock.advance(2999);
    expect(settled).toBeUndefined();
    await clock.advance(1);
    await pending;
    expect(settled).toMatchObject({ ok: true });
  });

  it('times out when the latency exceeds the profile’s deadline', async () => {
    sim.setLatency(8000);
    const pending = profile({ timeoutMs: 5000 }).upload(batch([row()]));
    await waitFor(() => sim.requests.length === 1, 'the simulator has the request');
    await clock.advance(5000);
    expect(await pending).toMatchObject({ ok: false, kind: 'timeout' });
    await clock.advance(3000); // let the simulator's late answer go nowhere
  });

  it('releases held connections when stopped', async () => {
    sim.timeoutNext(1);
    const pending = profile({ timeoutMs: 60_000 }).upload(batch([row()]));
    await waitFor(() => sim.heldConnections === 1, 'the simulator holds the request');
    await sim.stop();
    expect(await pending).toMatchObject({ ok: false, kind: 'network' });
  });
});
