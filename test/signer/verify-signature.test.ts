import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  certSha256,
  certSubject,
  certValidAt,
  certValidity,
  derToPem,
  ecdsaDerToRaw,
  ecdsaRawToDer,
  pemToDer,
  sigAlgOfKey,
} from '../../src/core/cert.js';
import { headMessage } from '../../src/core/chain.js';
import type { SigAlg } from '../../src/core/entries.js';
import { buildSelfSignedCertificate } from '../../src/gate/punch/token-provision.js';
import { verifyHeadSignature } from '../../src/hub/verify-signature.js';
import { tempTokenDir } from './helpers.js';

/** A software key and a certificate for it, built by the same code that builds token certificates. */
interface SoftwareGate {
  sigAlg: SigAlg;
  privateKey: KeyObject;
  certDer: Buffer;
  signHead: (message: Buffer) => Buffer;
}

const tmp = tempTokenDir('verify');
const notBefore = new Date('2026-03-01T00:00:00Z');
const notAfter = new Date('2026-11-21T15:59:59Z');
const gates = {} as Record<'rsa' | 'p256' | 'sm2', SoftwareGate>;
const message = headMessage('gate-05', 1200, 'ef'.repeat(32));

async function softwareGate(sigAlg: SigAlg, cn: string): Promise<SoftwareGate> {
  const generated =
    sigAlg === 'RSA-SHA256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: sigAlg === 'SM2-SM3' ? 'SM2' : 'prime256v1' });
  // A key fresh from generateKeyPairSync on the SM2 curve is a plain EC key to OpenSSL (ECDSA
  // with SM3, no Z value); only a key decoded from DER is an SM2 key, as in a certificate.
  const privateKey = createPrivateKey({ key: generated.privateKey.export({ type: 'pkcs8', format: 'der' }), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey({ key: generated.publicKey.export({ type: 'spki', format: 'der' }), format: 'der', type: 'spki' });
  const signHead = (data: Buffer): Buffer => {
    if (sigAlg === 'RSA-SHA256') return sign('sha256', data, privateKey);
    // node ignores dsaEncoding for SM2 keys and answers DER: convert, like a token's raw r||s.
    if (sigAlg === 'SM2-SM3') return ecdsaDerToRaw(sign('sm3', data, privateKey), 32);
    return sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  };
  const certDer = await buildSelfSignedCertificate({
    spkiDer: publicKey.export({ type: 'spki', format: 'der' }),
    sigAlg,
    subjectCN: cn,
    notBefore,
    notAfter,
    sign: async (tbs) => signHead(tbs),
  });
  return { sigAlg, privateKey, certDer, signHead };
}

beforeAll(async () => {
  gates.rsa = await softwareGate('RSA-SHA256', 'gate-rsa');
  gates.p256 = await softwareGate('ECDSA-P256-SHA256', 'gate-p256');
  gates.sm2 = await softwareGate('SM2-SM3', '工地闸机-3');
});

afterAll(() => tmp.cleanup());

describe('verifyHeadSignature', () => {
  for (const kind of ['rsa', 'p256', 'sm2'] as const) {
    it(`${kind}: a good signature verifies; a flipped bit in message or signature does not`, () => {
      const g = gates[kind];
      const sig = g.signHead(message);
      expect(verifyHeadSignature(g.certDer, g.sigAlg, message, sig)).toBe(true);
      const badMsg = Buffer.from(message);
      badMsg[0] ^= 0x04;
      expect(verifyHeadSignature(g.certDer, g.sigAlg, badMsg, sig)).toBe(false);
      const badSig = Buffer.from(sig);
      badSig[sig.length - 1] ^= 0x01;
      expect(verifyHeadSignature(g.certDer, g.sigAlg, message, badSig)).toBe(false);
    });
  }

  it('a signature under another algorithm name than the key is false', () => {
    const p = gates.p256.signHead(message);
    expect(verifyHeadSignature(gates.p256.certDer, 'SM2-SM3', message, p)).toBe(false);
    expect(verifyHeadSignature(gates.p256.certDer, 'RSA-SHA256', message, p)).toBe(false);
    const s = gates.sm2.signHead(message);
    expect(verifyHeadSignature(gates.sm2.certDer, 'ECDSA-P256-SHA256', message, s)).toBe(false);
    const r = gates.rsa.signHead(message);
    expect(verifyHeadSignature(gates.rsa.certDer, 'ECDSA-P256-SHA256', message, r)).toBe(false);
  });

  it("another gate's certificate is false", () => {
    const sig = gates.p256.signHead(message);
    expect(verifyHeadSignature(gates.sm2.certDer, 'ECDSA-P256-SHA256', message, sig)).toBe(false);
    expect(verifyHeadSignature(gates.rsa.certDer, 'ECDSA-P256-SHA256', message, sig)).toBe(false);
  });

  it('garbage never throws: it is false', () => {
    const sig = gates.p256.signHead(message);
    const garbage: Array<[Buffer, SigAlg, Buffer, Buffer]> = [
      [Buffer.alloc(0), 'ECDSA-P256-SHA256', message, sig],
      [Buffer.from('not a certificate'), 'ECDSA-P256-SHA256', message, sig],
      [gates.p256.certDer.subarray(0, 100), 'ECDSA-P256-SHA256', message, sig],
      [gates.p256.certDer, 'ECDSA-P256-SHA256', message, Buffer.alloc(0)],
      [gates.p256.certDer, 'ECDSA-P256-SHA256', message, Buffer.alloc(63, 1)],
      [gates.p256.certDer, 'ECDSA-P256-SHA256', message, ecdsaRawToDer(sig)],
      [gates.rsa.certDer, 'RSA-SHA256', message, Buffer.alloc(300, 0xff)],
      [gates.p256.certDer, 'Ed25519' as SigAlg, message, sig],
      [null as unknown as Buffer, 'ECDSA-P256-SHA256', message, sig],
      [gates.p256.certDer, 'ECDSA-P256-SHA256', 'text' as unknown as Buffer, sig],
    ];
    for (const [cert, alg, msg, s] of garbage) {
      expect(() => verifyHeadSignature(cert, alg, msg, s)).not.toThrow();
      expect(verifyHeadSignature(cert, alg, msg, s)).toBe(false);
    }
    // The broken certificate above did not poison the cache for the good one.
    expect(verifyHeadSignature(gates.p256.certDer, 'ECDSA-P256-SHA256', message, sig)).toBe(true);
  });

  it('SM2 signed by the openssl command line (default user id 1234567812345678) verifies', () => {
    const keyFile = join(tmp.dir, 'sm2.pem');
    const msgFile = join(tmp.dir, 'head.bin');
    writeFileSync(keyFile, gates.sm2.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(msgFile, message);
    const der = execFileSync('openssl', ['pkeyutl', '-sign', '-inkey', keyFile, '-rawin', '-digest', 'sm3', '-in', msgFile]);
    const raw = ecdsaDerToRaw(der, 32);
    expect(verifyHeadSignature(gates.sm2.certDer, 'SM2-SM3', message, raw)).toBe(true);
    const otherMessage = headMessage('gate-05', 1201, 'ef'.repeat(32));
    expect(verifyHeadSignature(gates.sm2.certDer, 'SM2-SM3', otherMessage, raw)).toBe(false);
  });
});

describe('certificate helpers', () => {
  it('certificates built for software keys verify with their own key (SM2 too)', () => {
    for (const g of Object.values(gates)) {
      const cert = new X509Certificate(g.certDer);
      expect(cert.verify(cert.publicKey)).toBe(true);
    }
    expect(certSubject(gates.sm2.certDer)).toBe('CN=工地闸机-3');
  });

  it('PEM and DER convert both ways; the fingerprint is what OpenSSL computes', () => {
    const pem = derToPem(gates.rsa.certDer);
    expect(pem.split('\n').every((line) => line.length <= 64)).toBe(true);
    expect(pemToDer(`some text before\n${pem}`).equals(gates.rsa.certDer)).toBe(true);
    expect(certSha256(gates.rsa.certDer)).toBe(new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase());
    expect(() => pemToDer('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----')).toThrow(
      expect.objectContaining({ code: 'cert_bad_pem' }),
    );
  });

  it('validity: dates as written, and checks against a receive time', () => {
    const v = certValidity(gates.p256.certDer);
    expect(v.notBefore.toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(v.notAfter.toISOString()).toBe('2026-11-21T15:59:59.000Z');
    expect(certValidAt(gates.p256.certDer, Date.parse('2026-02-28T23:59:59Z'))).toBe(false);
    expect(certValidAt(gates.p256.certDer, Date.parse('2026-06-01T00:00:00Z'))).toBe(true);
    expect(certValidAt(gates.p256.certDer, Date.parse('2026-11-21T16:00:00Z'))).toBe(false);
    expect(() => certValidity(Buffer.from('junk'))).toThrow(expect.objectContaining({ code: 'cert_invalid' }));
  });

  it('an SM2-curve key straight from generateKeyPairSync is refused (it would do ECDSA, not SM2)', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'SM2' });
    expect(sigAlgOfKey(publicKey)).toBeNull();
    expect(sigAlgOfKey(new X509Certificate(gates.sm2.certDer).publicKey)).toBe('SM2-SM3');
    expect(sigAlgOfKey(new X509Certificate(gates.p256.certDer).publicKey)).toBe('ECDSA-P256-SHA256');
    expect(sigAlgOfKey(new X509Certificate(gates.rsa.certDer).publicKey)).toBe('RSA-SHA256');
  });

  it('raw r||s and DER ECDSA signatures convert both ways, matching node:crypto', () => {
    for (let i = 0; i < 50; i++) {
      const m = Buffer.from(`head ${i}`);
      const der = sign('sha256', m, gates.p256.privateKey);
      const raw = ecdsaDerToRaw(der, 32);
      expect(raw.length).toBe(64);
      expect(ecdsaRawToDer(raw).equals(der)).toBe(true);
      expect(verifyHeadSignature(gates.p256.certDer, 'ECDSA-P256-SHA256', m, raw)).toBe(true);
    }
    expect(() => ecdsaDerToRaw(Buffer.from('3003020101', 'hex'), 32)).toThrow(expect.objectContaining({ code: 'sig_bad_der' }));
  });
});
