import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NationalProfile } from '../../src/municipal/national-profile.js';
import { systemClock } from '../../src/core/clock.js';
import { idNumberFrom } from '../../src/core/id-number.js';

const CLI = join(import.meta.dirname, '../../dist/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'daemon-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sitegate platform-sim as a daemon', () => {
  it('logs JSON lines, serves the national profile, and stops cleanly on SIGTERM', async () => {
    writeFileSync(join(dir, 'secret'), '0123456789abcdef0123456789abcdef\n');
    writeFileSync(join(dir, 'sim.yaml'), `listen: { port: 0 }\napps:\n  - appId: a1\n    appSecretFile: ${join(dir, 'secret')}\n`);
    const child = spawn(process.execPath, [CLI, 'platform-sim', '--config', join(dir, 'sim.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 20_000);
      child.stdout.on('data', () => {
        const m = out.match(/"url":"([^"]+)"/);
        if (m) {
          clearTimeout(t);
          resolve(m[1]);
        }
      });
    });
    for (const line of out.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
    const profile = new NationalProfile({ baseUrl: url, appId: 'a1', appSecret: '0123456789abcdef0123456789abcdef', clock: systemClock });
    const reply = await profile.upload({ projectCode: 'P1', teamSysNo: 1, rows: [{ idCardType: '01', idNumber: idNumberFrom('11010519491231002'), timeMs: Date.now(), direction: 'in' }] });
    expect(reply.ok).toBe(true);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(out).toMatch(/"msg":"platform-sim stopped"/);
  });
});
