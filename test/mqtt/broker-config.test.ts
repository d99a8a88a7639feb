import { pbkdf2Sync } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildBrokerFiles, hashPassword, writeBrokerFiles, type BrokerFilesOptions } from '../../src/mqtt/broker-config.js';
import { SitegateError } from '../../src/core/errors.js';
import { GATE_A, GATE_B, HUB, SITE, tempDir } from './helpers.js';

const base: BrokerFilesOptions = { siteId: SITE, hub: HUB, gates: [GATE_A, GATE_B], port: 18830, dataDir: '/var/lib/sitegate/mqtt' };

function aclBlock(acl: string, user: string): string[] {
  const lines = acl.split('\n');
  const start = lines.indexOf(`user ${user}`);
  const end = lines.findIndex((l, i) => i > start && l === '');
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

describe('broker configuration', () => {
  const dirs: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((remove) => remove()));
  });

  it('closes anonymous access and keeps queued messages with frequent saves', () => {
    const { conf } = buildBrokerFiles(base, '/etc/sitegate/mqtt');
    const lines = conf.split('\n');
    expect(lines).toContain('allow_anonymous false');
    expect(lines).toContain('per_listener_settings false');
    expect(lines).toContain('persistence true');
    expect(lines).toContain('persistence_location /var/lib/sitegate/mqtt/');
    expect(lines).toContain('max_queued_messages 1000000');
    expect(lines).toContain('autosave_interval 1');
    expect(lines).toContain('password_file /etc/sitegate/mqtt/passwd');
    expect(lines).toContain('acl_file /etc/sitegate/mqtt/acl');
    expect(lines).toContain('listener 18830 127.0.0.1');
    expect(lines).not.toContain('user root');
  });

  it('adds a TLS listener with its files when asked', () => {
    const { conf } = buildBrokerFiles(
      { ...base, bindAddress: '0.0.0.0', tls: { certFile: '/c/hub.crt', keyFile: '/c/hub.key', caFile: '/c/ca.crt', port: 8883 } },
      '/etc/sitegate/mqtt',
    );
    const lines = conf.split('\n');
    expect(lines).toContain('listener 8883 0.0.0.0');
    expect(lines).toContain('certfile /c/hub.crt');
    expect(lines).toContain('keyfile /c/hub.key');
    expect(lines).toContain('cafile /c/ca.crt');
  });

  it('gives the hub the whole site and Home Assistant discovery, and each gate only its own topics', () => {
    const { acl } = buildBrokerFiles(base, '/etc/sitegate/mqtt');
    expect(aclBlock(acl, 'hubA')).toEqual(['topic readwrite sitegate/v1/siteA/#', 'topic readwrite homeassistant/#']);
    expect(aclBlock(acl, 'gate-a')).toEqual([
      'topic write sitegate/v1/siteA/gate/gate-a/#',
      'topic read sitegate/v1/siteA/gate/gate-a/ack',
      'topic read sitegate/v1/siteA/gate/gate-a/photo/ack',
      'topic read sitegate/v1/siteA/gate/gate-a/cmd',
      'topic read sitegate/v1/siteA/roster',
      'topic read sitegate/v1/siteA/roster/#',
    ]);
    expect(acl).not.toMatch(/^pattern /m);
  });

  it('stores mosquitto $7$ PBKDF2-SHA512 hashes that verify, never the password', () => {
    const { passwd } = buildBrokerFiles(base, '/etc/sitegate/mqtt');
    expect(passwd.map((e) => e.user)).toEqual(['hubA', 'gate-a', 'gate-b']);
    const [, alg, iterations, salt, hash] = passwd[1].hash.split('$');
    expect(alg).toBe('7');
    const expected = pbkdf2Sync(GATE_A.password, Buffer.from(salt, 'base64'), Number(iterations), 64, 'sha512');
    expect(hash).toBe(expected.toString('base64'));
    expect(passwd[1].hash).not.toContain(GATE_A.password);
    expect(hashPassword('x', 5)).not.toBe(hashPassword('x', 5));
  });

  it('refuses duplicate users, unsafe ids, empty passwords and relative paths with a clear error', () => {
    const cases: Array<[Partial<BrokerFilesOptions>, RegExp]> = [
      [{ gates: [GATE_A, { gateId: 'gate-a', password: 'p' }] }, /"gate-a" appears twice/],
      [{ gates: [{ gateId: 'gate/a', password: 'p' }] }, /gateId "gate\/a" must be/],
      [{ hub: { user: 'hub A', password: 'p' } }, /hub user "hub A" must be/],
      [{ gates: [{ gateId: 'gate-c', password: '' }] }, /"gate-c" has an empty password/],
      [{ siteId: 'site#' }, /siteId "site#" must be/],
      [{ dataDir: 'data' }, /dataDir must be an absolute path/],
      [{ port: 0 }, /port must be a port number/],
      [{ maxQueuedMessages: 0 }, /maxQueuedMessages must be a positive integer/],
    ];
    for (const [patch, message] of cases) {
      let caught: unknown;
      try {
        buildBrokerFiles({ ...base, ...patch }, '/etc/sitegate/mqtt');
      } catch (err) {
        caught = err;
      }
      expect(caught, String(message)).toBeInstanceOf(SitegateError);
      expect((caught as SitegateError).code).toBe('BROKER_CONFIG');
      expect((caught as SitegateError).message).toMatch(message);
    }
  });

  it('writes the password file readable by its owner only, and no secret into any file or file name', async () => {
    const dir = await tempDir();
    dirs.push(dir.remove);
    await writeBrokerFiles(dir.path, { ...base, dataDir: join(dir.path, 'data') });
    expect(((await stat(join(dir.path, 'passwd'))).mode & 0o777).toString(8)).toBe('600');
    const names = await readdir(dir.path);
    expect(names.sort()).toEqual(['acl', 'data', 'mosquitto.conf', 'passwd']);
    for (const name of ['acl', 'mosquitto.conf', 'passwd']) {
      const text = await readFile(join(dir.path, name), 'utf8');
      for (const secret of [HUB.password, GATE_A.password, GATE_B.password]) expect(text).not.toContain(secret);
    }
  });
});
