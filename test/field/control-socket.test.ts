import { connect } from 'node:net';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/log.js';
import { controlRequest } from '../../src/control/client.js';
import { gateHandlers, hubHandlers } from '../../src/control/providers.js';
import { MAX_LINE_BYTES } from '../../src/control/protocol.js';
import { ControlServer, groupId } from '../../src/control/server.js';
import { gateStatusViewSchema } from '../../src/control/views.js';
import { FakeGateControl } from './fake-gate-control.js';

const dir = mkdtempSync(join(tmpdir(), 'field-control-'));
const path = join(dir, 'gate.sock');
const gate = new FakeGateControl();
const server = new ControlServer({ path, handlers: gateHandlers(gate), clock: systemClock, log: silentLogger(), group: 'dialout' });

beforeAll(() => server.start());
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes raw text and collects reply lines until `n` have arrived or the server closes. */
function raw(text: string, n: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let buf = '';
    s.setEncoding('utf8');
    s.on('connect', () => s.write(text));
    s.on('data', (d: string) => {
      buf += d;
      const lines = buf.split('\n').filter(Boolean);
      if (lines.length >= n) {
        s.destroy();
        resolve(lines);
      }
    });
    s.on('close', () => resolve(buf.split('\n').filter(Boolean)));
    s.on('error', reject);
  });
}

describe('the control socket', () => {
  it('is a 0660 socket given to the technicians group', () => {
    const st = statSync(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
    expect(st.gid).toBe(groupId('dialout'));
  });

  it('answers status with a view that matches its schema', async () => {
    const r = await controlRequest(path, { id: 1, cmd: 'status' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.id).toBe(1);
    expect(gateStatusViewSchema.parse(r.result).gateId).toBe('GATE-N1');
  });

  it('answers several requests on one connection in order', async () => {
    const lines = await raw('{"id":"a","cmd":"ping"}\n{"id":"b","cmd":"roster.info"}\n{"id":"c","cmd":"token.info"}\n', 3);
    expect(lines.map((l) => JSON.parse(l).id)).toEqual(['a', 'b', 'c']);
  });

  it('answers bad requests with an error, counts them, and keeps serving', async () => {
    const before = server.counters.badRequests;
    const lines = await raw(
      'not json\n{"cmd":"format-disk"}\n{"id":7,"cmd":"punches","args":{"last":0}}\n{"id":8,"cmd":"open","args":{"lane":"../x","direction":"in","who":"t"}}\n[]\n',
      5,
    );
    const replies = lines.map((l) => JSON.parse(l));
    expect(replies.every((r) => r.ok === false && r.error.code === 'bad_request')).toBe(true);
    expect(replies[2].id).toBe(7);
    expect(replies[2].error.message).toMatch(/args/);
    expect(server.counters.badRequests - before).toBe(5);
    expect((await controlRequest(path, { cmd: 'ping' })).ok).toBe(true);
  });

  it('cuts a connection whose line has no end', async () => {
    const lines = await raw('x'.repeat(MAX_LINE_BYTES + 10), 1);
    expect(JSON.parse(lines[0]).error.code).toBe('request_too_long');
    expect((await controlRequest(path, { cmd: 'ping' })).ok).toBe(true);
  });

  it('turns a provider failure or an invalid view into an error reply', async () => {
    gate.throwOn = 'status';
    const r1 = await controlRequest(path, { cmd: 'status' });
    gate.throwOn = null;
    gate.invalidStatus = true;
    const r2 = await controlRequest(path, { cmd: 'status' });
    gate.invalidStatus = false;
    expect(r1).toMatchObject({ ok: false, error: { code: 'failed', message: 'journal busy' } });
    expect(r2).toMatchObject({ ok: false, error: { code: 'failed' } });
    expect(!r2.ok && r2.error.message).toMatch(/uptimeS/);
  });

  it('passes the technician to a manual open', async () => {
    const r = await controlRequest(path, { cmd: 'open', args: { lane: 'L1', direction: 'out', who: 'tech1', reason: 'stuck badge' } });
    expect(r.ok).toBe(true);
    expect(gate.opens.at(-1)).toEqual({ lane: 'L1', direction: 'out', who: 'tech1', reason: 'stuck badge' });
  });

  it('tells a client that the daemon is not there', async () => {
    await expect(controlRequest(join(dir, 'nobody.sock'), { cmd: 'ping' })).rejects.toMatchObject({ code: 'control_unreachable' });
  });

  it('refuses to replace a file that is not a socket, and replaces a stale socket', async () => {
    const notSocket = join(dir, 'file.sock');
    writeFileSync(notSocket, 'x');
    const s1 = new ControlServer({ path: notSocket, handlers: {}, clock: systemClock, log: silentLogger(), group: null });
    await expect(s1.start()).rejects.toMatchObject({ code: 'control_socket_path' });
    const hubPath = join(dir, 'hub.sock');
    const a = new ControlServer({ path: hubPath, handlers: hubHandlers({ status: () => { throw new Error('x'); } }), clock: systemClock, log: silentLogger(), group: null });
    await a.start();
    // a crash leaves the file behind: the next start must still listen
    const b = new ControlServer({ path: hubPath, handlers: hubHandlers({ status: () => { throw new Error('x'); } }), clock: systemClock, log: silentLogger(), group: null });
    await b.start();
    const r = await controlRequest(hubPath, { cmd: 'punches', args: { last: 1 } });
    expect(r).toMatchObject({ ok: false, error: { code: 'unsupported' } });
    await b.stop();
    await a.stop();
  });
});
