import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/log.js';
import { gateHandlers } from '../../src/control/providers.js';
import { ControlServer } from '../../src/control/server.js';
import { openResultSchema, punchListSchema, rosterInfoSchema, rosterMatchesSchema, statusViewSchema, tokenInfoSchema } from '../../src/control/views.js';
import { configCheckSchema } from '../../src/cli/tech-config.js';
import { FakeGateControl } from './fake-gate-control.js';
import { CLI, ROOT } from './helpers.js';

// The `sitegate` technician commands as separate processes (dist/), against a control socket
// served here by a fake gate.
const dir = mkdtempSync(join(tmpdir(), 'field-cli-'));
const socket = join(dir, 'gate.sock');
const gate = new FakeGateControl();
const server = new ControlServer({ path: socket, handlers: gateHandlers(gate), clock: systemClock, log: silentLogger(), group: null });
beforeAll(() => server.start());
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const errorJson = z.strictObject({ error: z.strictObject({ code: z.string(), message: z.string() }) });

function sitegate(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, SITEGATE_CONTROL_SOCKET: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('exit', (code) => resolve({ code, out, err }));
  });
}
const onGate = (...args: string[]) => sitegate(...args, '--socket', socket);
const widest = (text: string) => Math.max(...text.split('\n').map((l) => [...l].length));

describe('sitegate status', () => {
  it('prints one screen within 80 columns and exits 0 when all is well', async () => {
    const r = await onGate('status');
    expect(r.code).toBe(0);
    for (const part of ['GATE GATE-N1', 'Readers', 'L1.in', 'Relays', 'Fire', 'Token', 'serial', 'expires in 335 days', 'Clock', 'Roster', 'version 17', 'Journal', '10 awaiting the hub', 'Hub link', 'Faults']) {
      expect(r.out).toContain(part);
    }
    expect(r.out.split('\n').length).toBeLessThanOrEqual(24);
    expect(widest(r.out)).toBeLessThanOrEqual(80);
  });

  it('exits 1 and shows the fault when the gate is degraded; --json matches the schema', async () => {
    gate.health = 'degraded';
    try {
      const human = await onGate('status');
      expect(human.code).toBe(1);
      expect(human.out).toMatch(/DEGRADED/);
      expect(human.out).toMatch(/reader_absent/);
      expect(widest(human.out)).toBeLessThanOrEqual(80);
      const json = await onGate('status', '--json');
      expect(json.code).toBe(1);
      expect(statusViewSchema.parse(JSON.parse(json.out)).health).toBe('degraded');
    } finally {
      gate.health = 'ok';
    }
  });

  it('exits 3 with a clear message when no daemon listens', async () => {
    const r = await sitegate('status', '--json', '--socket', join(dir, 'absent.sock'));
    expect(r.code).toBe(3);
    expect(errorJson.parse(JSON.parse(r.out)).error.code).toBe('control_unreachable');
    expect(r.err).toMatch(/is the daemon running/);
  });
});

describe('sitegate punches, open, roster, token', () => {
  it('lists pending and last punches', async () => {
    const pending = await onGate('punches', '--pending', '--json');
    expect(pending.code).toBe(0);
    expect(punchListSchema.parse(JSON.parse(pending.out)).map((p) => p.seq)).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    const last = await onGate('punches', '--last', '3');
    expect(last.code).toBe(0);
    expect(last.out).toMatch(/^\s+99 /m);
    expect(last.out.trim().split('\n')).toHaveLength(4);
    expect(widest(last.out)).toBeLessThanOrEqual(80);
  });

  it('refuses --pending with --last, or neither, as a usage error', async () => {
    expect((await onGate('punches')).code).toBe(2);
    expect((await onGate('punches', '--pending', '--last', '2')).code).toBe(2);
    expect((await onGate('punches', '--last', 'many')).code).toBe(2);
  });

  it('opens a lane under the technician’s name', async () => {
    const r = await onGate('open', '--lane', 'L1', '--dir', 'in', '--reason', 'delivery', '--json');
    expect(r.code).toBe(0);
    expect(openResultSchema.parse(JSON.parse(r.out)).passage).toBe('confirmed');
    expect(gate.opens.at(-1)).toMatchObject({ lane: 'L1', direction: 'in', reason: 'delivery' });
    expect(gate.opens.at(-1)!.who.length).toBeGreaterThan(0);
    const unknownLane = await onGate('open', '--lane', 'L9', '--dir', 'in');
    expect(unknownLane.code).toBe(1);
    expect(unknownLane.err).toMatch(/no lane "L9"/);
    expect((await onGate('open', '--lane', 'L1', '--dir', 'sideways')).code).toBe(2);
  });

  it('shows roster info and finds workers', async () => {
    const info = await onGate('roster', 'info', '--json');
    expect(rosterInfoSchema.parse(JSON.parse(info.out)).size).toBe(10_000);
    const found = await onGate('roster', 'find', '张', '--json');
    expect(rosterMatchesSchema.parse(JSON.parse(found.out)).map((w) => w.workerId)).toEqual(['W0001']);
    const human = await onGate('roster', 'find', 'W0002');
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/W0002\s+王芳/);
    expect((await onGate('roster', 'find', 'nobody')).code).toBe(1);
  });

  it('shows the token and its certificate', async () => {
    const r = await onGate('token', 'info', '--json');
    expect(r.code).toBe(0);
    expect(tokenInfoSchema.parse(JSON.parse(r.out)).certificate?.expiresInDays).toBe(335);
    const human = await onGate('token', 'info');
    expect(human.out).toMatch(/serial\s+4F1A22C09D7E55B3A1/);
    expect(widest(human.out)).toBeLessThanOrEqual(80);
  });
});

describe('sitegate config check', () => {
  it('accepts the example configs without a daemon', async () => {
    for (const f of ['gate.yaml', 'hub.yaml']) {
      const r = await sitegate('config', 'check', join(ROOT, 'src/config/examples', f), '--json');
      expect(r.code).toBe(0);
      expect(configCheckSchema.parse(JSON.parse(r.out))).toMatchObject({ kind: f.replace('.yaml', ''), valid: true });
    }
  });

  it('names each bad key and exits 1', async () => {
    const bad = join(dir, 'gate-bad.yaml');
    writeFileSync(bad, 'siteId: S1\ngateId: "bad id"\nmqtt: { url: http://x, passwordFile: /p }\nlanes: []\ncolour: blue\n');
    const r = await sitegate('config', 'check', bad, '--json');
    expect(r.code).toBe(1);
    const c = configCheckSchema.parse(JSON.parse(r.out));
    expect(c.valid).toBe(false);
    const text = c.problems.join('\n');
    for (const key of ['gateId', 'mqtt.url', 'token', 'lanes', 'colour']) expect(text).toContain(key);
    const human = await sitegate('config', 'check', bad);
    expect(human.out).toMatch(/is INVALID/);
    expect(widest(human.out)).toBeLessThanOrEqual(80);
  });

  it('asks for --kind when it cannot tell, and rejects a wrong one as usage', async () => {
    const odd = join(dir, 'site.yaml');
    writeFileSync(odd, 'siteId: S1\n');
    expect((await sitegate('config', 'check', odd)).code).toBe(2);
    expect((await sitegate('config', 'check', odd, '--kind', 'toaster')).code).toBe(2);
    expect((await sitegate('config', 'check', odd, '--kind', 'hub')).code).toBe(1);
  });
});
