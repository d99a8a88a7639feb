import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubConfigSchema } from '../../src/config/hub-config.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/log.js';
import { MosquittoBroker } from '../../src/demo/mosquitto.js';
import { Hub } from '../../src/hub/hub.js';
import { tokenFingerprint } from '../../src/hub/security-token.js';
import { PlatformSimulator } from '../../src/municipal/platform-sim.js';
import { APP, backlog, SECRET } from '../forwarder/sim-harness.js';

// The operator's commands as a technician types them (dist/cli/main.js), against a running hub
// in joint-test mode with the Shanghai profile, the platform simulator behind it.
const CLI = join(import.meta.dirname, '../../dist/cli/main.js');
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'hub-cli-'));
const broker = new MosquittoBroker({ dir: join(dir, 'broker'), siteId: 'S1', hub: { user: 'hub', password: 'hub-pw' }, gates: [] });
const sim = new PlatformSimulator({ apps: [{ appId: APP, appSecret: SECRET }], clock: systemClock, rateLimit: { requests: 20, windowMs: 1000 } });
let hub: Hub;
const configPath = join(dir, 'hub.yaml');

async function sitegate(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'hub', ...args, '--config', configPath], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe.skipIf(!existsSync(CLI))('sitegate hub operator commands', () => {
  beforeAll(async () => {
    await broker.start();
    await sim.start();
    writeFileSync(join(dir, 'hub.pw'), 'hub-pw\n');
    writeFileSync(join(dir, 'secret'), `${SECRET}\n`);
    writeFileSync(join(dir, 'token'), 'FIRST-TOKEN-0001\n', { mode: 0o600 });
    writeFileSync(join(dir, 'registry.json'), JSON.stringify({ workers: [] }));
    writeFileSync(
      configPath,
      [
        'siteId: S1',
        `stateDir: ${join(dir, 'state')}`,
        `mqtt: { url: "${broker.url}", passwordFile: ${join(dir, 'hub.pw')} }`,
        `registry: { workersFile: ${join(dir, 'registry.json')} }`,
        'platform:',
        '  profile: shanghai',
        `  securityTokenFile: ${join(dir, 'token')}`,
        `  baseUrl: "${sim.url}"`,
        `  appId: ${APP}`,
        `  appSecretFile: ${join(dir, 'secret')}`,
        '  mode: joint-test',
        '  pacing: { minSpacingMs: 50, pollDelayMs: 50 }',
      ].join('\n'),
    );
    const { loadConfigFile } = await import('../../src/config/load.js');
    hub = new Hub({ config: loadConfigFile(hubConfigSchema, configPath), log: silentLogger() });
    await hub.start();
    for (const row of backlog(12)) hub.queue.enqueue(row);
  });

  afterAll(async () => {
    await hub?.stop();
    await sim.stop();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uploads exactly the rows asked for, and the running hub sends nothing on its own', async () => {
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.requests).toHaveLength(0);
    const r = await sitegate('upload', '--rows', '3');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ok: sent 3 row(s) in 2 request(s)');
    expect(sim.accepted).toHaveLength(3);
    expect(hub.queue.counts()).toMatchObject({ delivered: 3, pending: 9 });
  });

  it('replaces the security token without a restart and shows the history by fingerprint only', async () => {
    writeFileSync(join(dir, 'new-token'), 'SECOND-TOKEN-0002\n');
    const set = await sitegate('token', 'set', join(dir, 'new-token'));
    expect(set.code).toBe(0);
    expect(set.stdout).toContain(`security token ${tokenFingerprint('SECOND-TOKEN-0002')} installed, replacing ${tokenFingerprint('FIRST-TOKEN-0001')}`);
    expect(set.stdout).toContain(`hub: security token ${tokenFingerprint('SECOND-TOKEN-0002')} in force`);
    const show = await sitegate('token', 'show');
    expect(show.stdout.split('\n').filter((l) => l.includes(tokenFingerprint('FIRST-TOKEN-0001')) || l.includes(tokenFingerprint('SECOND-TOKEN-0002')))).toHaveLength(3);
    expect(show.stdout).not.toContain('TOKEN-000');
    expect(hub.status().securityToken?.fingerprint).toBe(tokenFingerprint('SECOND-TOKEN-0002'));
    // the next upload is signed with the new token, and the platform accepts it
    const r = await sitegate('upload', '--rows', '2');
    expect(r.stdout).toContain('ok: sent 2 row(s)');
    expect(r.code).toBe(0);
    expect(sim.accepted).toHaveLength(5);
  });

  it('prints the day report as CSV from the hub database while the hub runs', async () => {
    const r = await sitegate('report', '--date', '2026-11-01', '--csv');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^date,kind,projectCode,teamSysNo,workerId/);
    const bad = await sitegate('report', '--date', '2026-13-01');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('calendar day');
  });
});
