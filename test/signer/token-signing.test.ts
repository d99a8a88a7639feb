import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certSha256, certSubject, certValidity } from '../../src/core/cert.js';
import { headMessage } from '../../src/core/chain.js';
import {
  findObject,
  findSlotByTokenLabel,
  pkcs11Code,
  pkcs11Library,
  SOFTHSM_MODULE,
} from '../../src/gate/punch/pkcs11-session.js';
import { Pkcs11Signer } from '../../src/gate/punch/signer.js';
import { provisionSoftHsmToken, type ProvisionedToken } from '../../src/gate/punch/token-provision.js';
import { verifyHeadSignature } from '../../src/hub/verify-signature.js';
import { PIN, SO_PIN, tempTokenDir } from './helpers.js';

const tmp = tempTokenDir('signing');
const signers: Pkcs11Signer[] = [];
let ecToken: ProvisionedToken;
let rsaToken: ProvisionedToken;
let otherEcToken: ProvisionedToken;
const notBefore = new Date('2026-01-01T00:00:00Z');

function signerFor(token: ProvisionedToken): Pkcs11Signer {
  const s = new Pkcs11Signer({
    modulePath: SOFTHSM_MODULE,
    tokenLabel: token.tokenLabel,
    keyLabel: token.keyLabel,
    pin: PIN,
    mechanism: token.sigAlg === 'RSA-SHA256' ? 'rsa-sha256' : 'ecdsa-p256',
  });
  signers.push(s);
  return s;
}

beforeAll(async () => {
  const common = { dir: tmp.dir, pin: PIN, soPin: SO_PIN, validDays: 365, notBefore };
  ecToken = await provisionSoftHsmToken({ ...common, tokenLabel: 'gate-01', keyLabel: 'head-key', keyType: 'ec-p256', subjectCN: 'gate-01' });
  rsaToken = await provisionSoftHsmToken({ ...common, tokenLabel: 'gate-02', keyLabel: 'head-key', keyType: 'rsa-2048', subjectCN: 'gate-02' });
});

afterAll(async () => {
  for (const s of signers) await s.close();
  tmp.cleanup();
});

describe('provisioned SoftHSM tokens', () => {
  it('writes a softhsm2.conf in the given directory and points this process at it', () => {
    expect(ecToken.confPath).toBe(join(tmp.dir, 'softhsm2.conf'));
    expect(process.env.SOFTHSM2_CONF).toBe(ecToken.confPath);
    expect(rsaToken.confPath).toBe(ecToken.confPath);
  });

  it('makes certificates node:crypto parses and that verify with their own key', () => {
    for (const token of [ecToken, rsaToken]) {
      const cert = new X509Certificate(token.certDer);
      expect(cert.verify(cert.publicKey)).toBe(true);
      expect(cert.fingerprint256.replaceAll(':', '').toLowerCase()).toBe(token.certSha256);
      expect(new X509Certificate(token.certPem).raw.equals(token.certDer)).toBe(true);
    }
    expect(new X509Certificate(ecToken.certDer).publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(new X509Certificate(rsaToken.certDer).publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('uses the subject, validity and signature algorithm asked for', () => {
    expect(certSubject(ecToken.certDer)).toBe('CN=gate-01');
    const v = certValidity(rsaToken.certDer);
    expect(v.notBefore.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(v.notAfter.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    const text = (der: Buffer) => {
      const file = join(tmp.dir, 'cert.der');
      writeFileSync(file, der);
      return execFileSync('openssl', ['x509', '-inform', 'DER', '-in', file, '-noout', '-text'], { encoding: 'utf8' });
    };
    expect(text(ecToken.certDer)).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text(rsaToken.certDer)).toContain('Signature Algorithm: sha256WithRSAEncryption');
  });

  it('openssl accepts the self-signed certificate', () => {
    const file = join(tmp.dir, 'ec.pem');
    writeFileSync(file, ecToken.certPem);
    const out = execFileSync('openssl', ['verify', '-CAfile', file, file], { encoding: 'utf8' });
    expect(out.trim()).toBe(`${file}: OK`);
  });

  it('keeps the private key on the token: sensitive, not extractable, CKA_VALUE unreadable', () => {
    const pkcs11 = pkcs11Library(SOFTHSM_MODULE);
    for (const token of [ecToken, rsaToken]) {
      const slot = findSlotByTokenLabel(pkcs11, token.tokenLabel);
      expect(slot).not.toBeNull();
      const session = pkcs11.C_OpenSession(slot!, pkcs11js.CKF_SERIAL_SESSION);
      try {
        try {
          pkcs11.C_Login(session, pkcs11js.CKU_USER, PIN);
        } catch (err) {
          if (pkcs11Code(err) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw err;
        }
        const key = findObject(pkcs11, session, [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
          { type: pkcs11js.CKA_LABEL, value: token.keyLabel },
        ]);
        expect(key).not.toBeNull();
        const [extractable, sensitive, onToken] = pkcs11.C_GetAttributeValue(session, key!, [
          { type: pkcs11js.CKA_EXTRACTABLE },
          { type: pkcs11js.CKA_SENSITIVE },
          { type: pkcs11js.CKA_TOKEN },
        ]);
        expect([extractable.value, sensitive.value, onToken.value]).toEqual([Buffer.from([0]), Buffer.from([1]), Buffer.from([1])]);
        const valueType = token.sigAlg === 'RSA-SHA256' ? pkcs11js.CKA_PRIVATE_EXPONENT : pkcs11js.CKA_VALUE;
        let code: number | null = null;
        try {
          pkcs11.C_GetAttributeValue(session, key!, [{ type: valueType }]);
        } catch (err) {
          code = pkcs11Code(err);
        }
        expect(code).toBe(pkcs11js.CKR_ATTRIBUTE_SENSITIVE);
      } finally {
        pkcs11.C_CloseSession(session);
      }
    }
  });

  it('refuses a second token with a label already in use', async () => {
    await expect(
      provisionSoftHsmToken({ dir: tmp.dir, pin: PIN, soPin: SO_PIN, validDays: 1, tokenLabel: 'gate-01', keyLabel: 'k', keyType: 'ec-p256', subjectCN: 'x' }),
    ).rejects.toMatchObject({ code: 'token_exists' });
  });

  it('refuses to provision into another directory once this process initialised SoftHSM', async () => {
    const other = tempTokenDir('other');
    try {
      await expect(
        provisionSoftHsmToken({ dir: other.dir, pin: PIN, soPin: SO_PIN, validDays: 1, tokenLabel: 'elsewhere', keyLabel: 'k', keyType: 'ec-p256', subjectCN: 'x' }),
      ).rejects.toMatchObject({ code: 'pkcs11_conf_mismatch' });
    } finally {
      other.cleanup();
    }
  });
});

describe('Pkcs11Signer on SoftHSM', () => {
  const message = headMessage('gate-01', 41, 'ab'.repeat(32));

  it('signs a P-256 chain head that the hub verifies; raw r||s of 64 bytes', async () => {
    const signer = signerFor(ecToken);
    await signer.open();
    expect(signer.state).toBe('ready');
    expect(signer.sigAlg).toBe('ECDSA-P256-SHA256');
    expect(signer.certSha256()).toBe(ecToken.certSha256);
    expect(signer.certificateDer().equals(ecToken.certDer)).toBe(true);
    const sig = await signer.sign(message);
    expect(sig.length).toBe(64);
    expect(verifyHeadSignature(signer.certificateDer(), 'ECDSA-P256-SHA256', message, sig)).toBe(true);
  });

  it('signs an RSA-2048 chain head that the hub verifies', async () => {
    const signer = signerFor(rsaToken);
    await signer.open();
    expect(signer.sigAlg).toBe('RSA-SHA256');
    const sig = await signer.sign(message);
    expect(sig.length).toBe(256);
    expect(verifyHeadSignature(rsaToken.certDer, 'RSA-SHA256', message, sig)).toBe(true);
  });

  it('a flipped bit in the message or the signature does not verify', async () => {
    for (const token of [ecToken, rsaToken]) {
      const signer = signerFor(token);
      await signer.open();
      const sig = await signer.sign(message);
      const badMsg = Buffer.from(message);
      badMsg[badMsg.length - 1] ^= 0x01;
      const badSig = Buffer.from(sig);
      badSig[10] ^= 0x80;
      expect(verifyHeadSignature(token.certDer, token.sigAlg, message, sig)).toBe(true);
      expect(verifyHeadSignature(token.certDer, token.sigAlg, badMsg, sig)).toBe(false);
      expect(verifyHeadSignature(token.certDer, token.sigAlg, message, badSig)).toBe(false);
    }
  });

  it("another token's certificate does not verify the signature", async () => {
    otherEcToken = await provisionSoftHsmToken({
      dir: tmp.dir, pin: PIN, soPin: SO_PIN, validDays: 30, tokenLabel: 'gate-03', keyLabel: 'head-key', keyType: 'ec-p256', subjectCN: 'gate-03',
    });
    const signer = signerFor(ecToken);
    await signer.open();
    const sig = await signer.sign(message);
    expect(verifyHeadSignature(otherEcToken.certDer, 'ECDSA-P256-SHA256', message, sig)).toBe(false);
    expect(verifyHeadSignature(rsaToken.certDer, 'ECDSA-P256-SHA256', message, sig)).toBe(false);
  });

  it('finds its token by label among several, whatever the slot ids (token made after C_Initialize too)', async () => {
    const pkcs11 = pkcs11Library(SOFTHSM_MODULE);
    const labels = pkcs11.C_GetSlotList(true).map((s) => pkcs11.C_GetTokenInfo(s).label.trim().replace(/\0+$/, ''));
    expect(labels).toEqual(expect.arrayContaining(['gate-01', 'gate-02', 'gate-03']));
    const signer = signerFor(otherEcToken);
    await signer.open();
    expect(signer.certSha256()).toBe(otherEcToken.certSha256);
    expect(signer.certSha256()).not.toBe(ecToken.certSha256);
    const sig = await signer.sign(message);
    expect(verifyHeadSignature(otherEcToken.certDer, 'ECDSA-P256-SHA256', message, sig)).toBe(true);
  });

  it('serialises concurrent signs on one session; every signature verifies', async () => {
    const signer = signerFor(ecToken);
    await signer.open();
    const messages = Array.from({ length: 20 }, (_, i) => headMessage('gate-01', i, certSha256(Buffer.from([i]))));
    const sigs = await Promise.all(messages.map((m) => signer.sign(m)));
    sigs.forEach((sig, i) => expect(verifyHeadSignature(ecToken.certDer, 'ECDSA-P256-SHA256', messages[i], sig)).toBe(true));
  });

  it('a token without the named key or certificate gives a fault with a clear code', async () => {
    const noKey = new Pkcs11Signer({ modulePath: SOFTHSM_MODULE, tokenLabel: 'gate-01', keyLabel: 'nope', pin: PIN, mechanism: 'ecdsa-p256' });
    await expect(noKey.open()).rejects.toMatchObject({ code: 'token_key_missing' });
    expect(noKey.state).toBe('fault');
    const noCert = new Pkcs11Signer({ modulePath: SOFTHSM_MODULE, tokenLabel: 'gate-01', keyLabel: 'head-key', certLabel: 'nope', pin: PIN, mechanism: 'ecdsa-p256' });
    await expect(noCert.open()).rejects.toMatchObject({ code: 'token_cert_missing' });
  });

  it('a mechanism that does not fit the key on the token is refused at open', async () => {
    const wrong = new Pkcs11Signer({ modulePath: SOFTHSM_MODULE, tokenLabel: 'gate-02', keyLabel: 'head-key', pin: PIN, mechanism: 'ecdsa-p256' });
    signers.push(wrong);
    await expect(wrong.open()).rejects.toMatchObject({ code: 'token_cert_mismatch' });
    expect(wrong.state).toBe('fault');
  });

  it('a missing token label gives no_token and token_unavailable', async () => {
    const absent = new Pkcs11Signer({ modulePath: SOFTHSM_MODULE, tokenLabel: 'gate-99', keyLabel: 'head-key', pin: PIN, mechanism: 'ecdsa-p256' });
    await expect(absent.open()).rejects.toMatchObject({ code: 'token_unavailable' });
    expect(absent.state).toBe('no_token');
    expect(() => absent.certSha256()).toThrow(/not been opened/);
    await expect(absent.sign(message)).rejects.toMatchObject({ code: 'token_unavailable' });
  });
});
