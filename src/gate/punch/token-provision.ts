import { createHash, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import pkcs11js from 'pkcs11js';
import { certSha256, derToPem, ecdsaRawToDer } from '../../core/cert.js';
import type { SigAlg } from '../../core/entries.js';
import { SitegateError } from '../../core/errors.js';
import {
  closeQuietly,
  describePkcs11Error,
  findSlotByTokenLabel,
  loadedLibrary,
  padLabel,
  pkcs11Library,
  readAttribute,
  SOFTHSM_MODULE,
  type Handle,
  type Pkcs11,
} from './pkcs11-session.js';

/**
 * Creates a SoftHSM2 token with a signing key generated on it and a self-signed certificate for
 * that key, for the demo and the tests (a real site installs a token with a CA-issued certificate).
 *
 * Everything runs through this process's PKCS#11 library, tokens included (C_InitToken on
 * SoftHSM's free slot): SoftHSM reads its token directory once, at C_Initialize, so a token made
 * by `softhsm2-util` after that is invisible to this process. Several tokens can be provisioned
 * into one directory, before or after signers were opened, as long as every call names the same
 * directory: SOFTHSM2_CONF is set from it before this process's first C_Initialize.
 */

export type ProvisionKeyType = 'ec-p256' | 'rsa-2048';

export interface ProvisionOptions {
  /** Directory holding softhsm2.conf and tokens/; shared by every token of one process. */
  dir: string;
  tokenLabel: string;
  keyLabel: string;
  pin: string;
  soPin: string;
  keyType: ProvisionKeyType;
  subjectCN: string;
  validDays: number;
  /** Start of validity; defaults to now. */
  notBefore?: Date;
  /** Defaults to SoftHSM2's module. */
  modulePath?: string;
}

export interface ProvisionedToken {
  confPath: string;
  tokenLabel: string;
  keyLabel: string;
  /** CKA_ID shared by the key pair and the certificate. */
  keyId: Buffer;
  sigAlg: SigAlg;
  certDer: Buffer;
  certPem: string;
  certSha256: string;
}

/** Writes `dir/softhsm2.conf` (token directory `dir/tokens`) unless it is already there; returns its path. */
export function writeSoftHsmConf(dir: string): string {
  const root = resolve(dir);
  const tokens = join(root, 'tokens');
  mkdirSync(tokens, { recursive: true });
  const confPath = join(root, 'softhsm2.conf');
  const text = `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`;
  let existing: string | null = null;
  try {
    existing = readFileSync(confPath, 'utf8');
  } catch {
    // not there yet
  }
  if (existing !== text) writeFileSync(confPath, text, { mode: 0o600 });
  return confPath;
}

export async function provisionSoftHsmToken(opts: ProvisionOptions): Promise<ProvisionedToken> {
  if (!Number.isFinite(opts.validDays) || opts.validDays <= 0) throw new TypeError('validDays must be a positive number');
  if (!opts.pin || !opts.soPin) throw new TypeError('pin and soPin are required');
  const modulePath = opts.modulePath ?? SOFTHSM_MODULE;
  const confPath = writeSoftHsmConf(opts.dir);
  const loaded = loadedLibrary(modulePath);
  if (!loaded) {
    process.env.SOFTHSM2_CONF = confPath;
  } else if (loaded.softhsmConf !== confPath) {
    throw new SitegateError(
      'pkcs11_conf_mismatch',
      `this process initialised ${modulePath} with SOFTHSM2_CONF=${loaded.softhsmConf ?? '(unset)'}; provision every token into that same directory`,
    );
  }
  const pkcs11 = pkcs11Library(modulePath);
  const sigAlg: SigAlg = opts.keyType === 'ec-p256' ? 'ECDSA-P256-SHA256' : 'RSA-SHA256';
  const keyId = randomBytes(8);

  let session: Handle | null = null;
  try {
    const slot = initToken(pkcs11, opts.tokenLabel, opts.soPin, opts.pin);
    session = pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    pkcs11.C_Login(session, pkcs11js.CKU_USER, opts.pin);
    const keys = generateKeyPair(pkcs11, session, opts.keyType, opts.keyLabel, keyId);
    const spkiDer = publicKeySpki(pkcs11, session, keys.publicKey, opts.keyType);
    const notBefore = opts.notBefore ?? new Date();
    const tokenSession = session;
    const certDer = await buildSelfSignedCertificate({
      spkiDer,
      sigAlg,
      subjectCN: opts.subjectCN,
      notBefore,
      notAfter: new Date(notBefore.getTime() + opts.validDays * 86_400_000),
      sign: (tbs) => signOnToken(pkcs11, tokenSession, keys.privateKey, opts.keyType, tbs),
    });
    checkSelfSigned(certDer);
    pkcs11.C_CreateObject(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
      { type: pkcs11js.CKA_CERTIFICATE_TYPE, value: pkcs11js.CKC_X_509 },
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: false },
      { type: pkcs11js.CKA_LABEL, value: opts.keyLabel },
      { type: pkcs11js.CKA_ID, value: keyId },
      { type: pkcs11js.CKA_SUBJECT, value: subjectNameDer(opts.subjectCN) },
      { type: pkcs11js.CKA_VALUE, value: certDer },
    ]);
    return {
      confPath,
      tokenLabel: opts.tokenLabel,
      keyLabel: opts.keyLabel,
      keyId,
      sigAlg,
      certDer,
      certPem: derToPem(certDer),
      certSha256: certSha256(certDer),
    };
  } catch (err) {
    if (err instanceof SitegateError) throw err;
    throw new SitegateError('token_provision_failed', `provisioning token "${opts.tokenLabel}" failed: ${describePkcs11Error(err)}`);
  } finally {
    closeQuietly(pkcs11, session);
  }
}

/** Initialises SoftHSM's free slot as a token with this label, SO PIN and user PIN; returns its slot. */
function initToken(pkcs11: Pkcs11, label: string, soPin: string, pin: string): Handle {
  if (findSlotByTokenLabel(pkcs11, label)) {
    throw new SitegateError('token_exists', `a token labelled "${label}" already exists in this token directory`);
  }
  const free = pkcs11
    .C_GetSlotList(true)
    .find((slot) => (pkcs11.C_GetTokenInfo(slot).flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0);
  if (!free) throw new SitegateError('token_provision_failed', 'the PKCS#11 module offers no free slot for a new token');
  pkcs11.C_InitToken(free, soPin, padLabel(label));
  const session = pkcs11.C_OpenSession(free, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
  try {
    pkcs11.C_Login(session, pkcs11js.CKU_SO, soPin);
    pkcs11.C_InitPIN(session, pin);
    pkcs11.C_Logout(session);
  } finally {
    closeQuietly(pkcs11, session);
  }
  const slot = findSlotByTokenLabel(pkcs11, label);
  if (!slot) throw new SitegateError('token_provision_failed', `token "${label}" is not listed after C_InitToken`);
  return slot;
}

const P256_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex'); // OID prime256v1

function generateKeyPair(pkcs11: Pkcs11, session: Handle, keyType: ProvisionKeyType, label: string, id: Buffer) {
  const common = [
    { type: pkcs11js.CKA_TOKEN, value: true },
    { type: pkcs11js.CKA_LABEL, value: label },
    { type: pkcs11js.CKA_ID, value: id },
  ];
  const privateTemplate = [
    ...common,
    { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
    { type: pkcs11js.CKA_PRIVATE, value: true },
    { type: pkcs11js.CKA_SIGN, value: true },
    { type: pkcs11js.CKA_SENSITIVE, value: true },
    { type: pkcs11js.CKA_EXTRACTABLE, value: false },
  ];
  const publicTemplate = [...common, { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY }, { type: pkcs11js.CKA_VERIFY, value: true }];
  if (keyType === 'ec-p256') {
    return pkcs11.C_GenerateKeyPair(
      session,
      { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
      [...publicTemplate, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC }, { type: pkcs11js.CKA_EC_PARAMS, value: P256_PARAMS }],
      [...privateTemplate, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_EC }],
    );
  }
  return pkcs11.C_GenerateKeyPair(
    session,
    { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
    [
      ...publicTemplate,
      { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA },
      { type: pkcs11js.CKA_MODULUS_BITS, value: 2048 },
      { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
    ],
    [...privateTemplate, { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_RSA }],
  );
}

/** SubjectPublicKeyInfo DER of a public key object on the token (built by node:crypto from a JWK). */
function publicKeySpki(pkcs11: Pkcs11, session: Handle, publicKey: Handle, keyType: ProvisionKeyType): Buffer {
  if (keyType === 'ec-p256') {
    let point = readAttribute(pkcs11, session, publicKey, pkcs11js.CKA_EC_POINT);
    // CKA_EC_POINT is the DER OCTET STRING around the uncompressed point 04||x||y.
    if (point.length === 67 && point[0] === 0x04 && point[1] === 65) point = point.subarray(2);
    if (point.length !== 65 || point[0] !== 0x04) throw new SitegateError('token_provision_failed', 'unexpected CKA_EC_POINT encoding');
    const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') };
    return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  }
  const n = readAttribute(pkcs11, session, publicKey, pkcs11js.CKA_MODULUS);
  const e = readAttribute(pkcs11, session, publicKey, pkcs11js.CKA_PUBLIC_EXPONENT);
  const jwk = { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') };
  return createPublicKey({ key: jwk, format: 'jwk' }).export({ type: 'spki', format: 'der' });
}

/** Signs in the head-signature wire format (raw r||s for ECDSA), like the gate's signer. */
async function signOnToken(pkcs11: Pkcs11, session: Handle, key: Handle, keyType: ProvisionKeyType, data: Buffer): Promise<Buffer> {
  const ec = keyType === 'ec-p256';
  pkcs11.C_SignInit(session, { mechanism: ec ? pkcs11js.CKM_ECDSA : pkcs11js.CKM_SHA256_RSA_PKCS }, key);
  const input = ec ? createHash('sha256').update(data).digest() : data;
  return Buffer.from(await pkcs11.C_SignAsync(session, input, Buffer.alloc(1024)));
}

const SIGNATURE_OIDS: Record<SigAlg, { oid: string; nullParams: boolean }> = {
  'RSA-SHA256': { oid: '1.2.840.113549.1.1.11', nullParams: true }, // sha256WithRSAEncryption
  'ECDSA-P256-SHA256': { oid: '1.2.840.10045.4.3.2', nullParams: false }, // ecdsa-with-SHA256
  'SM2-SM3': { oid: '1.2.156.10197.1.501', nullParams: false }, // SM2-with-SM3
};

function subjectName(cn: string): Name {
  return new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type: '2.5.4.3', value: new AttributeValue({ utf8String: cn }) }),
    ]),
  ]);
}

function subjectNameDer(cn: string): Buffer {
  return Buffer.from(AsnConvert.serialize(subjectName(cn)));
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

export interface SelfSignedCertificateOptions {
  /** SubjectPublicKeyInfo DER of the key that signs. */
  spkiDer: Buffer;
  sigAlg: SigAlg;
  subjectCN: string;
  notBefore: Date;
  notAfter: Date;
  /** Signs the TBSCertificate DER; answers in the head-signature wire format (raw r||s for ECDSA / SM2). */
  sign: (tbsDer: Buffer) => Promise<Buffer>;
}

/** A self-signed X.509 v3 end-entity certificate (digitalSignature only), as DER. */
export async function buildSelfSignedCertificate(opts: SelfSignedCertificateOptions): Promise<Buffer> {
  const spki = AsnConvert.parse(opts.spkiDer, SubjectPublicKeyInfo);
  const { oid, nullParams } = SIGNATURE_OIDS[opts.sigAlg];
  const algorithm = () => new AlgorithmIdentifier(nullParams ? { algorithm: oid, parameters: null } : { algorithm: oid });
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x01; // positive, no leading zero byte
  const keyUsage = new KeyUsage(KeyUsageFlags.digitalSignature);
  const skid = createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest();
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: algorithm(),
    issuer: subjectName(opts.subjectCN),
    validity: new Validity({ notBefore: opts.notBefore, notAfter: opts.notAfter }),
    subject: subjectName(opts.subjectCN),
    subjectPublicKeyInfo: spki,
    extensions: new Extensions([
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_keyUsage, true, keyUsage),
      extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(new Uint8Array(skid).buffer)),
    ]),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const wireSig = await opts.sign(tbsDer);
  const sigValue = opts.sigAlg === 'RSA-SHA256' ? wireSig : ecdsaRawToDer(wireSig);
  const cert = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: algorithm(),
    signatureValue: new Uint8Array(sigValue).buffer,
  });
  return Buffer.from(AsnConvert.serialize(cert));
}

function checkSelfSigned(der: Buffer): void {
  let ok = false;
  try {
    const cert = new X509Certificate(der);
    ok = cert.verify(cert.publicKey);
  } catch {
    ok = false;
  }
  if (!ok) throw new SitegateError('token_provision_failed', 'the certificate built on the token does not verify with its own key');
}
