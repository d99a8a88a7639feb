import { createHash, verify, X509Certificate, type KeyObject } from 'node:crypto';
import type { SigAlg } from './entries.js';
import { SitegateError } from './errors.js';

/**
 * X.509 helpers shared by the gate (its own certificate) and the hub (pinned gate certificates).
 * Parsing is node:crypto's (OpenSSL); nothing here does I/O.
 */

/** Parses a DER certificate; a clear `cert_invalid` error otherwise. */
export function parseCertificate(der: Buffer): X509Certificate {
  try {
    return new X509Certificate(der);
  } catch (err) {
    throw new SitegateError('cert_invalid', `not a DER X.509 certificate (${(err as Error).message})`);
  }
}

/** Lower-case hex SHA-256 of the certificate's DER bytes: the fingerprint the hub pins. */
export function certSha256(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/;

/** DER bytes of the first CERTIFICATE block of a PEM text. */
export function pemToDer(pem: string): Buffer {
  const m = PEM_CERT.exec(pem);
  if (!m) throw new SitegateError('cert_bad_pem', 'no -----BEGIN CERTIFICATE----- block found');
  const der = Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
  if (der.length === 0) throw new SitegateError('cert_bad_pem', 'empty CERTIFICATE block');
  return der;
}

export function derToPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

export interface CertValidity {
  notBefore: Date;
  notAfter: Date;
}

export function certValidity(der: Buffer): CertValidity {
  const cert = parseCertificate(der);
  return { notBefore: cert.validFromDate, notAfter: cert.validToDate };
}

/** True when `ms` (e.g. the hub's receive time) lies within the certificate's validity. */
export function certValidAt(der: Buffer, ms: number): boolean {
  const { notBefore, notAfter } = certValidity(der);
  return ms >= notBefore.getTime() && ms <= notAfter.getTime();
}

/** Subject as OpenSSL prints it, one `KEY=value` per line (e.g. `CN=gate-01`). */
export function certSubject(der: Buffer): string {
  return parseCertificate(der).subject;
}

export function certPublicKey(der: Buffer): KeyObject {
  return parseCertificate(der).publicKey;
}

/** SubjectPublicKeyInfo prefix of an SM2 public key: id-ecPublicKey with the curve sm2p256v1 (1.2.156.10197.1.301). */
const SM2_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a811ccf5501822d03420004', 'hex');

/**
 * The head signature algorithm a public key can verify, or null for keys we do not use.
 * Node 24 (OpenSSL 3) shows SM2 keys decoded from a certificate or DER with no
 * asymmetricKeyType; a key made by generateKeyPairSync('ec', { namedCurve: 'SM2' }) is instead
 * a plain EC key that would do ECDSA with SM3 (no Z value), not SM2, so it is refused here.
 */
export function sigAlgOfKey(key: KeyObject): SigAlg | null {
  if (key.type !== 'public' && key.type !== 'private') return null;
  if (key.asymmetricKeyType === 'rsa') return 'RSA-SHA256';
  if (key.asymmetricKeyType === 'ec') {
    return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'ECDSA-P256-SHA256' : null;
  }
  if (key.asymmetricKeyType === undefined && key.type === 'public') {
    const spki = key.export({ type: 'spki', format: 'der' });
    if (spki.length === 91 && spki.subarray(0, SM2_SPKI_PREFIX.length).equals(SM2_SPKI_PREFIX)) return 'SM2-SM3';
  }
  return null;
}

/**
 * Verifies a head signature with a public key (from a certificate). Wire formats: RSA PKCS#1
 * v1.5 over SHA-256; ECDSA P-256 and SM2 as raw r||s (64 bytes, what PKCS#11 tokens return).
 * SM2 uses OpenSSL's default user id `1234567812345678` (node:crypto cannot set another), and
 * node ignores dsaEncoding for SM2 keys, so the raw form is turned into DER here. Returns false
 * when the key does not fit the algorithm; may throw on malformed input (callers that face
 * outside input catch).
 */
export function verifyWithKey(key: KeyObject, sigAlg: SigAlg, message: Buffer, sig: Buffer): boolean {
  if (sigAlgOfKey(key) !== sigAlg) return false;
  switch (sigAlg) {
    case 'RSA-SHA256':
      return verify('sha256', message, key, sig);
    case 'ECDSA-P256-SHA256':
      if (sig.length !== 64) return false;
      return verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, sig);
    case 'SM2-SM3':
      if (sig.length !== 64) return false;
      return verify('sm3', message, { key, dsaEncoding: 'der' }, ecdsaRawToDer(sig));
    default:
      return false;
  }
}

function derInteger(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length - 1 && unsigned[i] === 0) i++;
  let v = unsigned.subarray(i);
  if (v[0] & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return Buffer.concat([Buffer.from([0x02, v.length]), v]);
}

/** Raw r||s (as PKCS#11 returns it) to the DER `SEQUENCE { r INTEGER, s INTEGER }` X.509 needs. */
export function ecdsaRawToDer(raw: Buffer): Buffer {
  if (raw.length === 0 || raw.length % 2 !== 0 || raw.length > 132) {
    throw new SitegateError('sig_bad_length', `raw ECDSA signature has odd or bad length ${raw.length}`);
  }
  const half = raw.length / 2;
  const body = Buffer.concat([derInteger(raw.subarray(0, half)), derInteger(raw.subarray(half))]);
  const len = body.length < 0x80 ? Buffer.from([body.length]) : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), len, body]);
}

/** DER `SEQUENCE { r, s }` to raw r||s with each half padded to `size` bytes (32 for P-256 / SM2). */
export function ecdsaDerToRaw(der: Buffer, size: number): Buffer {
  const bad = (why: string) => new SitegateError('sig_bad_der', `DER ECDSA signature: ${why}`);
  let pos = 0;
  if (der[pos++] !== 0x30) throw bad('not a SEQUENCE');
  let len = der[pos++];
  if (len === 0x81) len = der[pos++];
  else if (len > 0x80) throw bad('length form');
  if (len !== der.length - pos) throw bad('SEQUENCE length');
  const out: Buffer[] = [];
  for (let k = 0; k < 2; k++) {
    if (der[pos++] !== 0x02) throw bad('not an INTEGER');
    const n = der[pos++];
    if (n === undefined || pos + n > der.length) throw bad('INTEGER length');
    let v = der.subarray(pos, pos + n);
    pos += n;
    while (v.length > size && v[0] === 0) v = v.subarray(1);
    if (v.length > size) throw bad('INTEGER too large');
    out.push(Buffer.concat([Buffer.alloc(size - v.length), v]));
  }
  if (pos !== der.length) throw bad('trailing bytes');
  return Buffer.concat(out);
}
