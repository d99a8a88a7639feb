import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalBytes, sha256Hex } from '../../src/core/canonical.js';
import {
  parseRosterPublicKey,
  rosterChunkSchema,
  rosterDeltaSchema,
  rosterKeyFingerprint,
  rosterPublicKeyText,
  signRosterMessage,
  snapshotDigest,
  verifyRosterSignature,
} from '../../src/core/roster-message.js';
import { keyPair, SITE, worker } from './helpers.js';

const { privateKey, publicKey } = keyPair();

function delta() {
  return signRosterMessage({ kind: 'roster-delta', siteId: SITE, fromVersion: 4, version: 5, upserts: [worker(1)], removes: ['W9'] }, privateKey);
}

describe('roster messages', () => {
  it('verifies a delta signed by the hub key, whatever the key order of its JSON', () => {
    const d = delta();
    const reordered = JSON.parse(JSON.stringify({ sig: d.sig, removes: d.removes, upserts: d.upserts, version: 5, fromVersion: 4, siteId: SITE, kind: d.kind }));
    expect(verifyRosterSignature(d, publicKey)).toBe(true);
    expect(verifyRosterSignature(reordered, publicKey)).toBe(true);
    expect(rosterDeltaSchema.safeParse(d).success).toBe(true);
  });

  it('refuses a changed field, a signature of another key and a missing signature', () => {
    const d = delta();
    expect(verifyRosterSignature({ ...d, version: 6 }, publicKey)).toBe(false);
    expect(verifyRosterSignature({ ...d, upserts: [{ ...d.upserts[0], status: 'blacklisted' }] }, publicKey)).toBe(false);
    const other = keyPair();
    expect(verifyRosterSignature(signRosterMessage({ ...d, sig: undefined }, other.privateKey), publicKey)).toBe(false);
    const { sig: _sig, ...unsigned } = d;
    expect(verifyRosterSignature(unsigned, publicKey)).toBe(false);
    expect(verifyRosterSignature({ ...d, sig: 'not base64 at all' }, publicKey)).toBe(false);
  });

  it('covers a snapshot chunk\'s workers through workersSha256 and the whole through the digest', () => {
    const workers = [worker(1), worker(2)];
    const workersSha256 = sha256Hex(canonicalBytes(workers));
    const digest = snapshotDigest({ siteId: SITE, version: 3, siteKey: 'ab'.repeat(32), rules: null, chunks: [workersSha256] });
    const chunk = signRosterMessage(
      { kind: 'roster-snapshot', siteId: SITE, version: 3, index: 0, count: 1, digest, siteKey: 'ab'.repeat(32), rules: null, workersSha256, workers },
      privateKey,
    );
    expect(rosterChunkSchema.safeParse(chunk).success).toBe(true);
    expect(verifyRosterSignature(chunk, publicKey)).toBe(true);
    expect(verifyRosterSignature({ ...chunk, workersSha256: sha256Hex('x') }, publicKey)).toBe(false);
    expect(snapshotDigest({ siteId: SITE, version: 3, siteKey: 'ab'.repeat(32), rules: null, chunks: [sha256Hex('x')] })).not.toBe(digest);
  });

  it('rejects malformed workers at the border and names the field', () => {
    const r = rosterDeltaSchema.safeParse({ ...delta(), upserts: [{ ...worker(1), faceTemplates: ['not base64!'] }] });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0].path.join('.')).toBe('upserts.0.faceTemplates.0');
    expect(rosterDeltaSchema.safeParse({ ...delta(), fromVersion: 5 }).success).toBe(false);
  });

  it('keeps fields it does not know on a worker', () => {
    const r = rosterDeltaSchema.parse({ ...delta(), upserts: [{ ...worker(1), team: '钢筋班' }] });
    expect(r.upserts[0]).toMatchObject({ team: '钢筋班', trade: '普工' });
  });

  it('reads the pinned public key as base64 DER or PEM, and refuses a key that is not Ed25519', () => {
    const text = rosterPublicKeyText(privateKey);
    expect(text).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(rosterKeyFingerprint(parseRosterPublicKey(text))).toBe(rosterKeyFingerprint(publicKey));
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(rosterKeyFingerprint(parseRosterPublicKey(pem))).toBe(rosterKeyFingerprint(publicKey));
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(() => parseRosterPublicKey(ec)).toThrow(/must be Ed25519/);
    expect(() => parseRosterPublicKey('garbage')).toThrow(/cannot be read/);
  });
});
