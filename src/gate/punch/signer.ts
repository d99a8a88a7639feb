import { createHash } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { certPublicKey, certSha256, ecdsaDerToRaw, sigAlgOfKey, verifyWithKey } from '../../core/cert.js';
import type { SigAlg } from '../../core/entries.js';
import { SitegateError } from '../../core/errors.js';
import {
  closeQuietly,
  describePkcs11Error,
  findObject,
  findSlotByTokenLabel,
  isDeviceGone,
  pkcs11Code,
  pkcs11CodeName,
  pkcs11Library,
  readAttribute,
  type Handle,
  type Pkcs11,
} from './pkcs11-session.js';

/**
 * ready: signs. no_token: token or session gone; `reopen()` later. wrong_pin: the PIN was refused
 * or is locked; never retried (a real token locks after a few tries), needs a new PIN.
 * fault: anything else (missing key or certificate, a certificate that does not fit the key, an
 * unexpected token error); `reopen()` may be tried.
 */
export type SignerState = 'ready' | 'no_token' | 'wrong_pin' | 'fault';

export type SignerStateListener = (state: SignerState, error: SitegateError | null) => void;

/** Signs chain heads (`headMessage()` of core/chain.ts) with the gate's key. */
export interface HeadSigner {
  readonly sigAlg: SigAlg;
  readonly state: SignerState;
  /** DER certificate of the signing key, as read from the token. Throws before the first open. */
  certificateDer(): Buffer;
  /** Hex SHA-256 of certificateDer(): the fingerprint the hub pins. */
  certSha256(): string;
  /** Signature in the wire format of `sigAlg` (ECDSA / SM2: raw r||s). Rejects with a SitegateError. */
  sign(message: Buffer): Promise<Buffer>;
  /** Called on every state change, with the error that caused it (null when becoming ready). */
  on(event: 'state', listener: SignerStateListener): this;
  off(event: 'state', listener: SignerStateListener): this;
}

export type SignerMechanism = 'rsa-sha256' | 'ecdsa-p256' | 'sm2-sm3';

export interface Pkcs11SignerOptions {
  /** Path of the PKCS#11 module (.so). */
  modulePath: string;
  /** Token label (without its blank padding). */
  tokenLabel: string;
  /** CKA_LABEL of the private key. */
  keyLabel: string;
  /** CKA_LABEL of the certificate object; defaults to keyLabel. */
  certLabel?: string;
  /** User PIN, already read from its file by the caller. Never logged or put into errors. */
  pin: string;
  mechanism: SignerMechanism;
  /** Vendor mechanism number for SM2-with-SM3 (tokens differ); required for 'sm2-sm3'. */
  sm2Mechanism?: number;
  /** A loaded and initialised PKCS11 object to use instead of the process-wide one (fault injection). */
  pkcs11?: Pkcs11;
}

const SIG_ALG: Record<SignerMechanism, SigAlg> = {
  'rsa-sha256': 'RSA-SHA256',
  'ecdsa-p256': 'ECDSA-P256-SHA256',
  'sm2-sm3': 'SM2-SM3',
};

/** Large enough for RSA-8192, so C_Sign never answers CKR_BUFFER_TOO_SMALL (which leaves the operation active). */
const SIG_BUFFER_BYTES = 1024;
const SELF_TEST_MESSAGE = Buffer.from('sitegate-signer-self-test', 'utf8');

const WRONG_PIN_CODES = new Set<number>([
  pkcs11js.CKR_PIN_INCORRECT,
  pkcs11js.CKR_PIN_INVALID,
  pkcs11js.CKR_PIN_LEN_RANGE,
  pkcs11js.CKR_PIN_EXPIRED,
]);

export class Pkcs11Signer implements HeadSigner {
  readonly sigAlg: SigAlg;
  readonly #opts: Omit<Pkcs11SignerOptions, 'pin'>;
  readonly #pin: string;
  #state: SignerState = 'no_token';
  #lastError: SitegateError | null = null;
  #pkcs11: Pkcs11 | null = null;
  #session: Handle | null = null;
  #key: Handle | null = null;
  #cert: Buffer | null = null;
  #certSha: string | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #listeners = new Set<SignerStateListener>();

  constructor(options: Pkcs11SignerOptions) {
    const { pin, ...rest } = options;
    if (!options.modulePath) throw new TypeError('modulePath is required');
    if (!options.tokenLabel) throw new TypeError('tokenLabel is required');
    if (!options.keyLabel) throw new TypeError('keyLabel is required');
    if (typeof pin !== 'string' || pin.length === 0) throw new TypeError('pin must be a non-empty string');
    if (!(options.mechanism in SIG_ALG)) throw new TypeError(`mechanism must be one of ${Object.keys(SIG_ALG).join(', ')}`);
    if (options.mechanism === 'sm2-sm3' && !Number.isSafeInteger(options.sm2Mechanism)) {
      throw new TypeError('sm2Mechanism (the vendor mechanism number) is required for sm2-sm3');
    }
    this.#opts = rest;
    this.#pin = pin;
    this.sigAlg = SIG_ALG[options.mechanism];
  }

  get state(): SignerState {
    return this.#state;
  }

  /** The error behind the current state (null when ready). */
  get lastError(): SitegateError | null {
    return this.#lastError;
  }

  on(_event: 'state', listener: SignerStateListener): this {
    this.#listeners.add(listener);
    return this;
  }

  off(_event: 'state', listener: SignerStateListener): this {
    this.#listeners.delete(listener);
    return this;
  }

  certificateDer(): Buffer {
    if (!this.#cert) throw this.#error('token_unavailable', 'the token has not been opened yet, so its certificate is unknown');
    return Buffer.from(this.#cert);
  }

  certSha256(): string {
    if (!this.#certSha) throw this.#error('token_unavailable', 'the token has not been opened yet, so its certificate is unknown');
    return this.#certSha;
  }

  /**
   * Finds the token by label, logs in, finds key and certificate, and signs once as a self-test.
   * After wrong_pin it refuses without touching the token (a real token locks after a few wrong
   * tries): a new PIN needs a new signer.
   */
  open(): Promise<void> {
    return this.reopen();
  }

  /**
   * Tries again after no_token or fault (the caller decides when, e.g. on a Clock timer); same
   * rules as open(). If the token now holds a different certificate, the signer goes to fault:
   * the chain and the hub's pin are bound to the old one.
   */
  reopen(): Promise<void> {
    return this.#exclusive(async () => {
      if (this.#state === 'wrong_pin' && this.#lastError) throw this.#lastError;
      this.#dropSession();
      await this.#open();
    });
  }

  /** Closes the session (the library stays initialised for the rest of the process). */
  close(): Promise<void> {
    return this.#exclusive(async () => {
      this.#dropSession();
      if (this.#state === 'ready') this.#setState('no_token', this.#error('token_closed', 'the signer was closed'));
    });
  }

  sign(message: Buffer): Promise<Buffer> {
    return this.#exclusive(async () => {
      if (this.#state !== 'ready' || !this.#session || !this.#key || !this.#pkcs11) {
        throw this.#lastError ?? this.#error('token_unavailable', 'the signer is not open');
      }
      try {
        return await this.#signRaw(this.#pkcs11, this.#session, this.#key, message);
      } catch (err) {
        throw this.#fail(err, 'C_Sign');
      }
    });
  }

  async #open(): Promise<void> {
    const o = this.#opts;
    let pkcs11: Pkcs11;
    try {
      pkcs11 = o.pkcs11 ?? pkcs11Library(o.modulePath);
    } catch (err) {
      throw this.#toState('fault', err instanceof SitegateError ? err : this.#error('token_module_failed', String(err)));
    }
    this.#pkcs11 = pkcs11;
    let session: Handle | null = null;
    try {
      const slot = findSlotByTokenLabel(pkcs11, o.tokenLabel);
      if (!slot) throw this.#toState('no_token', this.#error('token_unavailable', `no token labelled "${o.tokenLabel}" is present`));
      session = pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
      this.#login(pkcs11, session);
      const key = findObject(pkcs11, session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_LABEL, value: o.keyLabel },
      ]);
      if (!key) throw this.#toState('fault', this.#error('token_key_missing', `token "${o.tokenLabel}" has no private key labelled "${o.keyLabel}"`));
      const certLabel = o.certLabel ?? o.keyLabel;
      const certObj = findObject(pkcs11, session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_CERTIFICATE },
        { type: pkcs11js.CKA_LABEL, value: certLabel },
      ]);
      if (!certObj) throw this.#toState('fault', this.#error('token_cert_missing', `token "${o.tokenLabel}" has no certificate labelled "${certLabel}"`));
      const cert = readAttribute(pkcs11, session, certObj, pkcs11js.CKA_VALUE);
      await this.#checkCertificate(pkcs11, session, key, cert);
      this.#session = session;
      this.#key = key;
      this.#cert = cert;
      this.#certSha = certSha256(cert);
      session = null;
      this.#setState('ready', null);
    } catch (err) {
      closeQuietly(pkcs11, session);
      throw this.#fail(err, 'open');
    }
  }

  #login(pkcs11: Pkcs11, session: Handle): void {
    try {
      pkcs11.C_Login(session, pkcs11js.CKU_USER, this.#pin);
    } catch (err) {
      const code = pkcs11Code(err);
      // Login state is per token and process: another session of ours is logged in already.
      if (code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN) return;
      if (code === pkcs11js.CKR_PIN_LOCKED) {
        throw this.#toState('wrong_pin', this.#error('token_pin_locked', `the PIN of token "${this.#opts.tokenLabel}" is locked; unlock it with the SO PIN`, { pkcs11: 'CKR_PIN_LOCKED' }));
      }
      if (code !== null && WRONG_PIN_CODES.has(code)) {
        throw this.#toState('wrong_pin', this.#error('token_wrong_pin', `token "${this.#opts.tokenLabel}" refused the PIN (${pkcs11CodeName(code)}); not retried, fix the PIN file`, { pkcs11: pkcs11CodeName(code) }));
      }
      throw err;
    }
  }

  /** The certificate must hold the public half of the key and fit the mechanism: sign once and verify. */
  async #checkCertificate(pkcs11: Pkcs11, session: Handle, key: Handle, cert: Buffer): Promise<void> {
    const mismatch = (why: string) =>
      this.#toState('fault', this.#error('token_cert_mismatch', `certificate on token "${this.#opts.tokenLabel}" ${why}`));
    let publicKey;
    try {
      publicKey = certPublicKey(cert);
    } catch {
      throw mismatch('is not a valid X.509 certificate');
    }
    if (sigAlgOfKey(publicKey) !== this.sigAlg) throw mismatch(`holds no ${this.sigAlg} key`);
    if (this.#certSha !== null && certSha256(cert) !== this.#certSha) {
      throw this.#toState('fault', this.#error('token_cert_changed', `token "${this.#opts.tokenLabel}" now holds a different certificate than when first opened; re-commission the gate`));
    }
    const sig = await this.#signRaw(pkcs11, session, key, SELF_TEST_MESSAGE);
    if (!verifyWithKey(publicKey, this.sigAlg, SELF_TEST_MESSAGE, sig)) throw mismatch(`does not match key "${this.#opts.keyLabel}"`);
  }

  async #signRaw(pkcs11: Pkcs11, session: Handle, key: Handle, message: Buffer): Promise<Buffer> {
    let mechanism: number;
    let input: Buffer;
    switch (this.#opts.mechanism) {
      case 'rsa-sha256':
        mechanism = pkcs11js.CKM_SHA256_RSA_PKCS;
        input = message;
        break;
      case 'ecdsa-p256':
        // SoftHSM (and many tokens) lack CKM_ECDSA_SHA256: hash here, sign the digest.
        mechanism = pkcs11js.CKM_ECDSA;
        input = createHash('sha256').update(message).digest();
        break;
      case 'sm2-sm3':
        // The vendor mechanism computes Z (default user id) and SM3 itself.
        mechanism = this.#opts.sm2Mechanism as number;
        input = message;
        break;
    }
    pkcs11.C_SignInit(session, { mechanism }, key);
    const out = Buffer.alloc(SIG_BUFFER_BYTES);
    const sig = typeof pkcs11.C_SignAsync === 'function'
      ? await pkcs11.C_SignAsync(session, input, out)
      : pkcs11.C_Sign(session, input, out);
    return this.#normaliseSignature(Buffer.from(sig));
  }

  #normaliseSignature(sig: Buffer): Buffer {
    if (this.sigAlg === 'RSA-SHA256') return sig;
    if (sig.length === 64) return sig;
    // Some SM2 tokens answer DER; the wire format is raw r||s.
    if (sig[0] === 0x30) {
      try {
        return ecdsaDerToRaw(sig, 32);
      } catch {
        // fall through
      }
    }
    throw this.#error('token_fault', `token returned a ${sig.length}-byte ${this.sigAlg} signature, expected 64`);
  }

  /** Maps any failure to a state and a SitegateError (already-mapped errors pass through). */
  #fail(err: unknown, fn: string): SitegateError {
    if (err instanceof SitegateError) {
      if (this.#state === 'ready') this.#toState('fault', err);
      return err;
    }
    const code = pkcs11Code(err);
    this.#dropSession();
    if (code !== null && isDeviceGone(code)) {
      return this.#toState('no_token', this.#error('token_unavailable', `token "${this.#opts.tokenLabel}" is unavailable (${describePkcs11Error(err)}); will reopen`, { pkcs11: pkcs11CodeName(code), fn }));
    }
    return this.#toState('fault', this.#error('token_fault', `token "${this.#opts.tokenLabel}" failed in ${fn}: ${describePkcs11Error(err)}`, code !== null ? { pkcs11: pkcs11CodeName(code), fn } : { fn }));
  }

  #toState(state: SignerState, err: SitegateError): SitegateError {
    this.#setState(state, err);
    return err;
  }

  #setState(state: SignerState, err: SitegateError | null): void {
    const changed = state !== this.#state || err !== this.#lastError;
    this.#state = state;
    this.#lastError = err;
    if (!changed) return;
    for (const l of this.#listeners) {
      try {
        l(state, err);
      } catch {
        // a listener's bug must not break signing
      }
    }
  }

  #dropSession(): void {
    if (this.#pkcs11) closeQuietly(this.#pkcs11, this.#session);
    this.#session = null;
    this.#key = null;
  }

  #error(code: string, message: string, detail?: Record<string, unknown>): SitegateError {
    return new SitegateError(code, message, { tokenLabel: this.#opts.tokenLabel, ...detail });
  }

  /** One PKCS#11 operation at a time on the session (C_SignInit + C_Sign must not interleave). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }
}
