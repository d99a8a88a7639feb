import { createHmac } from 'node:crypto';
import type { CredentialKind } from './entries.js';

/**
 * Card and ID numbers never travel bare: a 32-bit UID hashed without a key is reversed in
 * seconds, so punches and rosters carry HMAC-SHA-256 under the site key.
 */
export function credentialHmac(siteKey: Buffer, kind: CredentialKind, number: string): string {
  return createHmac('sha256', siteKey).update(`${kind}:${number}`, 'utf8').digest('hex');
}

/** Masks an ID number for logs and screens: 3101**********123X. */
export function maskIdNumber(id: string): string {
  if (id.length <= 8) return '*'.repeat(id.length);
  return id.slice(0, 4) + '*'.repeat(id.length - 8) + id.slice(-4);
}
