import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { certSha256 } from '../core/cert.js';
import type { SigAlg } from '../core/entries.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import type { HeadSigner, SignerState } from './punch/signer.js';

/** The signer the gate drives: the PKCS#11 signer or a stand-in with the same shape. */
export type GateSigner = HeadSigner & { open?(): Promise<void>; reopen?(): Promise<void>; close?(): Promise<void> };

/**
 * The gate's token as the rest of the gate sees it. The gate starts without its token (pulled,
 * broken, not yet plugged in): workers still pass and punches chain, awaiting a signature. The
 * chain's identity is the certificate's SHA-256, so the certificate read at the last successful
 * open is kept in the state directory; once the token is back, a different certificate on it is
 * refused (the hub pins the old one) rather than signed with.
 */
export class GateToken {
  private cachedDer: Buffer | null = null;
  private openError: SitegateError | null = null;
  /** the token holds another certificate than the chain's: never signed with */
  private mismatch: SitegateError | null = null;

  constructor(
    private readonly signer: GateSigner,
    /** where the last certificate read from the token is kept (DER) */
    private readonly cacheFile: string,
  ) {
    if (existsSync(cacheFile)) {
      try {
        this.cachedDer = readFileSync(cacheFile);
        new X509Certificate(this.cachedDer);
      } catch {
        this.cachedDer = null;
      }
    }
  }

  get sigAlg(): SigAlg {
    return this.signer.sigAlg;
  }

  /** ready, no_token, wrong_pin, fault */
  get state(): SignerState {
    return this.mismatch ? 'fault' : this.signer.state;
  }

  /** Why the token is not ready (null when it is). */
  get problem(): SitegateError | null {
    if (this.mismatch) return this.mismatch;
    if (this.signer.state === 'ready') return null;
    const e = (this.signer as { lastError?: SitegateError | null }).lastError;
    return e ?? this.openError;
  }

  /** Opens the token; a failure is kept (see `problem`), not thrown: the gate runs without it. */
  async open(): Promise<boolean> {
    try {
      await this.signer.open?.();
      this.afterOpen();
      return true;
    } catch (err) {
      this.openError = err instanceof SitegateError ? err : new SitegateError('token_unavailable', errorMessage(err));
      return false;
    }
  }

  /** Tries again (ChainSigning's retry); throws while the token is still away. */
  async reopen(): Promise<void> {
    await (this.signer.reopen ?? this.signer.open)?.call(this.signer);
    this.afterOpen();
  }

  close(): Promise<void> {
    return this.signer.close?.() ?? Promise.resolve();
  }

  /** The certificate's DER: from the token, else the one kept from its last open; null if never seen. */
  certificateDer(): Buffer | null {
    if (this.signer.state === 'ready' && !this.mismatch) {
      try {
        return this.signer.certificateDer();
      } catch {
        // fall through to the cache
      }
    }
    return this.cachedDer;
  }

  /** The chain identity; `fallback` (the journal's stored identity) when no certificate was ever read. */
  certSha256(fallback: string | null = null): string | null {
    const der = this.certificateDer();
    return der ? certSha256(der) : fallback;
  }

  async sign(message: Buffer): Promise<Buffer> {
    if (this.mismatch) throw this.mismatch;
    return this.signer.sign(message);
  }

  private afterOpen(): void {
    const der = this.signer.certificateDer();
    if (this.cachedDer && !der.equals(this.cachedDer)) {
      throw (this.mismatch = new SitegateError(
        'token_cert_changed',
        `the token now holds a different certificate (${certSha256(der).slice(0, 16)}…) than this gate's chain (${certSha256(this.cachedDer).slice(0, 16)}…): re-commission the gate`,
      ));
    }
    this.mismatch = null;
    this.openError = null;
    if (!this.cachedDer) {
      const tmp = `${this.cacheFile}.tmp`;
      writeFileSync(tmp, der);
      renameSync(tmp, this.cacheFile);
      this.cachedDer = Buffer.from(der);
    }
  }
}
