import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { verifyWithKey } from '../core/cert.js';
import type { SigAlg } from '../core/entries.js';

/**
 * Verifies a gate's chain-head signature against the certificate pinned for that gate.
 * Inputs come from MQTT payloads: anything malformed is just "not verified" (false), never a
 * throw. Parsed public keys are cached per certificate (bounded).
 */

const CACHE_LIMIT = 512;
/** Certificate SHA-256 → its public key, or null when the DER does not parse. */
const keyCache = new Map<string, KeyObject | null>();

function publicKeyOf(certDer: Buffer): KeyObject | null {
  const id = createHash('sha256').update(certDer).digest('hex');
  if (keyCache.has(id)) return keyCache.get(id) ?? null;
  let key: KeyObject | null;
  try {
    key = new X509Certificate(certDer).publicKey;
  } catch {
    key = null;
  }
  if (keyCache.size >= CACHE_LIMIT) keyCache.delete(keyCache.keys().next().value as string);
  keyCache.set(id, key);
  return key;
}

export function verifyHeadSignature(certDer: Buffer, sigAlg: SigAlg, message: Buffer, sig: Buffer): boolean {
  try {
    if (!Buffer.isBuffer(certDer) || !Buffer.isBuffer(message) || !Buffer.isBuffer(sig) || sig.length === 0) return false;
    const key = publicKeyOf(certDer);
    if (!key) return false;
    return verifyWithKey(key, sigAlg, message, sig);
  } catch {
    return false;
  }
}
