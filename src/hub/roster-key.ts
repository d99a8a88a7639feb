import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SitegateError } from '../core/errors.js';

/**
 * The hub's roster signing key: Ed25519, PKCS#8 PEM in a file only root reads. Gates pin its
 * public half (rosterPublicKeyText) in their config.
 */
export function readRosterKey(path: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SitegateError('ROSTER_KEY', `cannot read the hub's roster key ${path}: ${(err as NodeJS.ErrnoException).code ?? errorText(err)}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new SitegateError('ROSTER_KEY', `the hub's roster key ${path} is not a PEM private key: ${errorText(err)}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SitegateError('ROSTER_KEY', `the hub's roster key ${path} must be Ed25519, not ${key.asymmetricKeyType}`);
  }
  return key;
}

/** Reads the key, or creates it (mode 0600) when the file does not exist yet. */
export function readOrCreateRosterKey(path: string): { key: KeyObject; created: boolean } {
  if (existsSync(path)) return { key: readRosterKey(path), created: false };
  const { privateKey } = generateKeyPairSync('ed25519');
  try {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    throw new SitegateError('ROSTER_KEY', `cannot create the hub's roster key ${path}: ${(err as NodeJS.ErrnoException).code ?? errorText(err)}`);
  }
  return { key: privateKey, created: true };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
