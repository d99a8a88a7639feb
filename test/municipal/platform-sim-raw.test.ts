import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { encryptIdNumber } from '../../src/municipal/national-crypto.js';
import { signParams } from '../../src/municipal/national-sign.js';
import { PlatformSimulator } from '../../src/municipal/platform-sim.js';

/** Requests written by hand, for what the national profile never sends. */

const APP = 'raw-app';
const SECRET = '0123456789abcdef0123456789abcdef';
const ID = '11010519491231002X';

let clock: ManualClock;
let sim: PlatformSimulator;

beforeEach(async () => {
  clock = new ManualClock();
  sim = new PlatformSimulator({ apps: [{ appId: APP, appSecret: SECRET }], clock, rateLimit: { requests: 1000, windowMs: 1000 } });
  await sim.start();
});

afterEach(async () => {
  await sim.stop();
});

function signedForm(data: unknown, overrides: Record<string, string | undefined> = {}): string {
  const params: Record<string, string> = {
    appid: APP,
    data: typeof data === 'string' ? data : JSON.stringify(data),
    format: 'json',
    method: 'WorkerAttendance.Add',
    nonce: 'n1',
    timestamp: '20261121080000',
    version: '1.0',
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete params[k];
    else params[k] = v;
  }
  return new URLSearchParams({ ...params, sign: signParams(params, SECRET) }).toString();
}

async function post(body: string, contentType = 'application/x-www-form-urlencoded'): Promise<{ status: number; body: any }> {
  const res = await fetch(sim.url, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
}

const goodRow = () => ({ idCardType: '01', idCardNumber: encryptIdNumber(ID, SECRET), date: '2026-11-21 08:00:00', direction: '01' });
const data = (rows: unknown[]) => ({ projectCode: 'P1', teamSysNo: 1, dataList: rows });

describe('platform simulator: parameter checks', () => {
  it('accepts a hand-made request that follows the standard', async () => {
    const reply = await post(signedForm(data([goodRow()])));
    expect(reply.body).toMatchObject({ code: 0, data: { requestSerialCode: expect.any(String) } });
    expect(sim.accepted).toHaveLength(1);
  });

  it('names a missing parameter', async () => {
    expect((await post(signedForm(data([goodRow()]), { nonce: undefined }))).body).toMatchObject({ code: -1, message: 'nonce: missing parameter' });
  });

  it('refuses more than 20 rows, an empty list, and a teamSysNo that is not a number', async () => {
    const many = await post(signedForm(data(Array.from({ length: 21 }, goodRow))));
    expect(many.body.code).toBe(-1);
    expect(many.body.message).toContain('dataList');
    expect((await post(signedForm(data([])))).body.message).toContain('dataList: is empty');
    expect((await post(signedForm({ projectCode: 'P1', teamSysNo: '1', dataList: [goodRow()] }))).body.message).toContain('teamSysNo');
  });

  it('refuses data that is not JSON, another format, and an unknown method', async () => {
    expect((await post(signedForm('{oops'))).body.message).toContain('data');
    expect((await post(signedForm(data([goodRow()]), { format: 'xml' }))).body.message).toContain('format');
    expect((await post(signedForm(data([goodRow()]), { method: 'Worker.Delete' }))).body.message).toContain('method');
  });

  it('names the row field that is missing or wrong', async () => {
    const { idCardType: _drop, ...noType } = goodRow();
    expect((await post(signedForm(data([goodRow(), noType])))).body.message).toBe('dataList[1].idCardType: is required');
    const plain = { ...goodRow(), idCardNumber: ID };
    expect((await post(signedForm(data([plain])))).body.message).toContain('dataList[0].idCardNumber');
    const badDay = { ...goodRow(), date: '2026-02-30 08:00:00' };
    expect((await post(signedForm(data([badDay])))).body.message).toContain('dataList[0].date');
    const farLat = { ...goodRow(), lat: 123 };
    expect((await post(signedForm(data([farLat])))).body.message).toContain('dataList[0].lat');
    expect(sim.accepted).toHaveLength(0);
  });

  it('accepts a JPEG image within 50 KB and refuses a larger one', async () => {
    const jpeg = (size: number) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(size - 4)]).toString('base64');
    expect((await post(signedForm(data([{ ...goodRow(), image: jpeg(50 * 1024) }])))).body.code).toBe(0);
    const big = await post(signedForm(data([{ ...goodRow(), direction: '02', image: jpeg(50 * 1024 + 1) }])));
    expect(big.body.message).toContain('dataList[0].image');
  });

  it('refuses a body that is not a urlencoded form', async () => {
    expect((await post(signedForm(data([goodRow()])), 'application/json')).body).toMatchObject({ code: -1 });
  });

  it('refuses a tampered value even with the original sign', async () => {
    const form = new URLSearchParams(signedForm(data([goodRow()])));
    form.set('nonce', 'n2');
    expect((await post(form.toString())).body.code).toBe(-2);
  });

  it('answers GET with 405 and records it', async () => {
    const res = await fetch(sim.url);
    expect(res.status).toBe(405);
    await res.text();
    expect(sim.requests[0]).toMatchObject({ httpStatus: 405, code: null });
  });

  it('answers a body over its limit with 413 and -1', async () => {
    await sim.stop();
    sim = new PlatformSimulator({ apps: [{ appId: APP, appSecret: SECRET }], clock, maxBodyBytes: 100 });
    await sim.start();
    const reply = await post(signedForm(data([goodRow()])));
    expect(reply.status).toBe(413);
    expect(reply.body.code).toBe(-1);
  });
});
