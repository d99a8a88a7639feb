import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gateConfigSchema } from '../../src/config/gate-config.js';
import { hubConfigSchema } from '../../src/config/hub-config.js';
import { loadConfigFile } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CLI = join(import.meta.dirname, '../../dist/cli/main.js');

const goodGate = `
# a gate at the north entrance
siteId: S1
gateId: G1
mqtt: { url: "mqtt://127.0.0.1:1883", passwordFile: /etc/sitegate/mqtt-password }
token: { tokenLabel: gate-G1, keyLabel: punch, pinFile: /etc/sitegate/token-pin }
roster: { file: /var/lib/sitegate/roster.json }
lanes:
  - name: L1
    relays: { in: { chip: pinctrl-bcm2711, offset: 17 } }
    passageSensor: { chip: pinctrl-bcm2711, offset: 22 }
`;

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('daemon configuration', () => {
  it('fills the defaults from the schema', () => {
    const c = loadConfigFile(gateConfigSchema, file('good.yaml', goodGate));
    expect(c.epoch).toBe(1);
    expect(c.token.mechanism).toBe('ecdsa-p256');
    expect(c.lanes[0].pulseMs).toBe(500);
    expect(c.publish).toEqual({ batchSize: 100, maxInFlight: 8, ackTimeoutMs: 15_000 });
    expect(c.gpio.driver).toBe('onoff');
  });

  it('names the bad key, the unknown key and the file', () => {
    const bad = file('bad.yaml', goodGate.replace('offset: 22', 'offset: -3').replace('gateId: G1', 'gateId: G1\nrelayPulse: 5'));
    expect(() => loadConfigFile(gateConfigSchema, bad)).toThrow(/bad\.yaml/);
    expect(() => loadConfigFile(gateConfigSchema, bad)).toThrow(/lanes\[0\]\.passageSensor\.offset: /);
    expect(() => loadConfigFile(gateConfigSchema, bad)).toThrow(/relayPulse: unknown key/);
  });

  it('says which required key is missing and rejects YAML that does not parse', () => {
    const missing = file('missing.yaml', goodGate.replace(/token:.*\n/, ''));
    expect(() => loadConfigFile(gateConfigSchema, missing)).toThrow(/token: /);
    expect(() => loadConfigFile(hubConfigSchema, file('yaml.yaml', 'siteId: [unclosed'))).toThrow(/not valid YAML/);
    expect(() => loadConfigFile(hubConfigSchema, join(dir, 'absent.yaml'))).toThrow(/cannot read config/);
  });

  it('makes `sitegate gate` exit non-zero with an error naming the key', () => {
    const bad = file('cli-bad.yaml', goodGate.replace('url: "mqtt://127.0.0.1:1883"', 'url: "http://nope"'));
    const r = spawnSync(process.execPath, [CLI, 'gate', '--config', bad], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/mqtt\.url: must start with mqtt:\/\/ or mqtts:\/\//);
  });

  it('makes `sitegate hub` exit non-zero on a missing config file', () => {
    const r = spawnSync(process.execPath, [CLI, 'hub', '--config', join(dir, 'nope.yaml')], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/cannot read config .*nope\.yaml/);
  });
});
