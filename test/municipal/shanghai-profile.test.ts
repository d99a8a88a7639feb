import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { hubConfigSchema } from '../../src/config/hub-config.js';
import { ManualClock } from '../../src/core/manual-clock.js';
import { SecurityToken, tokenFingerprint } from '../../src/hub/security-token.js';
import { decryptIdNumber } from '../../src/municipal/national-crypto.js';
import type { FetchFn } from '../../src/municipal/national-http.js';
import { createProfile } from '../../src/municipal/profiles.js';
import { shanghaiProfileConfigSchema, shanghaiSign } from '../../src/municipal/shanghai-profile.js';
import { signParams } from '../../src/municipal/national-sign.js';

const SECRET = '0123456789abcdef0123456789abcdef';
const ID = '11010519491231002X';
const START = Date.UTC(2026, 10, 21, 0, 0, 0);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'shanghai-'));
  dirs.push(d);
  return d;
}

function recordingFetch(): { fetch: FetchFn; forms: URLSearchParams[] } {
  const forms: URLSearchParams[] = [];
  const fetch: FetchFn = async (_url, init) => {
    forms.push(new URLSearchParams(String(init.body)));
    return new Response(JSON.stringify({ code: 0, message: 'ok', data: { requestSerialCode: 'R1' } }), { status: 200 });
  };
  return { fetch, forms };
}

function logSink(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return { log: pino({ level: 'debug' }, stream), lines };
}

const batch = { projectCode: 'P1', teamSysNo: 3, rows: [{ idCardType: '01', idNumber: ID, timeMs: START, direction: 'in' as const }] };

function setup(options: Record<string, unknown> = {}) {
  const dir = tempDir();
  const clock = new ManualClock(START);
  const file = join(dir, 'token');
  writeFileSync(file, 'TOKEN-ONE-abcdef\n', { mode: 0o600 });
  const { log, lines } = logSink();
  const token = new SecurityToken({ file, historyFile: join(dir, 'history.jsonl'), clock, log });
  const { fetch, forms } = recordingFetch();
  const profile = createProfile(
    'shanghai',
    { baseUrl: 'http://127.0.0.1:9/api', appId: 'sh-app', appSecret: SECRET, timeoutMs: 5000, clock, fetch, securityToken: () => token.current() },
    options,
  );
  return { dir, clock, file, token, profile, forms, lines };
}

const paramsOf = (form: URLSearchParams) => Object.fromEntries([...form].filter(([k]) => k !== 'sign'));

describe('shanghai profile', () => {
  it('sends the national shape plus the security token as a signed parameter', async () => {
    const s = setup();
    expect(s.profile.name).toBe('shanghai');
    expect(await s.profile.upload(batch)).toEqual({ ok: true, value: { requestSerialCode: 'R1' } });
    const form = s.forms[0];
    expect(form.get('method')).toBe('WorkerAttendance.Add');
    expect(form.get('token')).toBe('TOKEN-ONE-abcdef');
    // the token is covered by the national signature, like every other parameter
    expect(form.get('sign')).toBe(signParams(paramsOf(form), SECRET));
    const data = JSON.parse(form.get('data')!);
    expect(decryptIdNumber(data.dataList[0].idCardNumber, SECRET)).toBe(ID);
  });

  it('uses a replaced token at the next request, without a restart, and keeps the old one in the history', async () => {
    const s = setup();
    await s.profile.upload(batch);
    s.clock.setWall(START + 86_400_000);
    const replaced = s.token.replace('TOKEN-TWO-123456\n');
    expect(replaced).toEqual({ fingerprint: tokenFingerprint('TOKEN-TWO-123456'), previousFingerprint: tokenFingerprint('TOKEN-ONE-abcdef') });
    await s.profile.query('R1');
    expect(s.forms[1].get('token')).toBe('TOKEN-TWO-123456');

    const history = s.token.history();
    expect(history.map((h) => h.fingerprint)).toEqual([tokenFingerprint('TOKEN-ONE-abcdef'), tokenFingerprint('TOKEN-TWO-123456')]);
    expect(history.map((h) => h.installed)).toEqual(['2026-11-21 08:00:00', '2026-11-22 08:00:00']);
    expect(readFileSync(`${s.file}.previous`, 'utf8')).toBe('TOKEN-ONE-abcdef\n');
    expect(statSync(s.file).mode & 0o777).toBe(0o600);
    // neither the history nor the log ever holds a token
    const text = readFileSync(join(s.dir, 'history.jsonl'), 'utf8') + s.lines.join('');
    expect(text).not.toContain('TOKEN-ONE');
    expect(text).not.toContain('TOKEN-TWO');
    expect(s.lines.join('')).toContain(tokenFingerprint('TOKEN-TWO-123456'));
  });

  it('notices a token file replaced by other means and records it once', async () => {
    const s = setup();
    await s.profile.upload(batch);
    writeFileSync(`${s.file}.new`, 'TOKEN-THREE-xyz\n');
    // a rename is how editors and config tools replace a file
    (await import('node:fs')).renameSync(`${s.file}.new`, s.file);
    await s.profile.upload(batch);
    await s.profile.upload(batch);
    expect(s.forms[1].get('token')).toBe('TOKEN-THREE-xyz');
    expect(s.token.history().map((h) => h.source)).toEqual(['first-use', 'file-changed']);
  });

  it('puts the token into data, renames fields and signs with SM3 when configured so', async () => {
    const s = setup({
      tokenIn: 'data',
      tokenName: 'safeToken',
      methods: { upload: 'Attendance.Upload' },
      fieldNames: { idCardNumber: 'cardNo', teamSysNo: 'teamId' },
      signature: { hash: 'sm3', secretName: 'key', lowerCase: false, upperCaseHex: true },
    });
    await s.profile.upload(batch);
    const form = s.forms[0];
    expect(form.get('method')).toBe('Attendance.Upload');
    expect(form.get('token')).toBeNull();
    const data = JSON.parse(form.get('data')!);
    expect(data.safeToken).toBe('TOKEN-ONE-abcdef');
    expect(data.teamId).toBe(3);
    expect(decryptIdNumber(data.dataList[0].cardNo, SECRET)).toBe(ID);
    const sig = shanghaiProfileConfigSchema.parse({ signature: { hash: 'sm3', secretName: 'key', lowerCase: false, upperCaseHex: true } }).signature;
    expect(form.get('sign')).toBe(shanghaiSign(paramsOf(form), SECRET, sig, null));
    expect(form.get('sign')).toMatch(/^[0-9A-F]{64}$/);
  });

  it('fails a request cleanly when the token file is gone, naming the file', async () => {
    const s = setup();
    rmSync(s.file);
    await expect(s.profile.upload(batch)).resolves.toMatchObject({ ok: false, kind: 'credentials_unavailable', message: expect.stringContaining(s.file) });
    expect(s.forms).toHaveLength(0);
  });

  it('refuses an unknown profile, bad options, and a shanghai config without a token file', () => {
    const base = {
      siteId: 'S1',
      mqtt: { url: 'mqtt://127.0.0.1:1883', passwordFile: '/x' },
      registry: { workersFile: '/r.json' },
      platform: { baseUrl: 'http://p/api', appId: 'a', appSecretFile: '/s' },
    };
    const problems = (platform: Record<string, unknown>) => {
      const r = hubConfigSchema.safeParse({ ...base, platform: { ...base.platform, ...platform } });
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(problems({ profile: 'national' })).toEqual([]);
    expect(problems({ profile: 'shanghai', securityTokenFile: '/t' })).toEqual([]);
    expect(problems({ profile: 'shanghai' })).toEqual([expect.stringContaining('platform.securityTokenFile')]);
    expect(problems({ profile: 'atlantis' })).toEqual([expect.stringContaining('platform.profile: unknown profile')]);
    expect(problems({ profile: 'shanghai', securityTokenFile: '/t', profileOptions: { tokenIn: 'header' } })).toEqual([
      expect.stringContaining('platform.profileOptions.tokenIn'),
    ]);
  });
});
