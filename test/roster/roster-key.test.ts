import { spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRosterPublicKey, rosterKeyFingerprint, signRosterMessage, verifyRosterSignature } from '../../src/core/roster-message.js';
import { readOrCreateRosterKey, readRosterKey } from '../../src/hub/roster-key.js';
import { tempDir } from './helpers.js';

const dir = await tempDir();
afterAll(() => dir.remove());
const CLI = join(import.meta.dirname, '../../dist/cli/main.js');

describe("the hub's roster key", () => {
  it('is created once, readable only by its owner, and read back the same', () => {
    const path = join(dir.path, 'keys', 'roster-key.pem');
    const first = readOrCreateRosterKey(path);
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = readOrCreateRosterKey(path);
    expect(again.created).toBe(false);
    expect(rosterKeyFingerprint(again.key)).toBe(rosterKeyFingerprint(first.key));
  });

  it('refuses a file that is not an Ed25519 private key, naming the file', () => {
    const bad = join(dir.path, 'bad.pem');
    writeFileSync(bad, 'not a key');
    expect(() => readRosterKey(bad)).toThrow(/bad\.pem is not a PEM private key/);
    expect(() => readRosterKey(join(dir.path, 'missing.pem'))).toThrow(/ENOENT/);
  });

  it.skipIf(!existsSync(CLI))('`sitegate hub roster-key` prints the public key a gate pins, and it verifies the hub\'s signatures', () => {
    const path = join(dir.path, 'cli-key.pem');
    const r = spawnSync(process.execPath, [CLI, 'hub', 'roster-key', '--key-file', path, '--json'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { publicKey: string; created: boolean };
    expect(out.created).toBe(true);
    const signed = signRosterMessage({ kind: 'roster-head', siteId: 's', version: 1, atMs: 0 }, readRosterKey(path));
    expect(verifyRosterSignature(signed, parseRosterPublicKey(out.publicKey))).toBe(true);

    const refused = spawnSync(process.execPath, [CLI, 'hub', 'roster-key', '--key-file', '/etc/hostname/k.pem'], { encoding: 'utf8', timeout: 30_000 });
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain("cannot create the hub's roster key /etc/hostname/k.pem");
  });
});
