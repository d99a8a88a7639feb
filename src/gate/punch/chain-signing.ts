import { EventEmitter } from 'node:events';
import { headMessage } from '../../core/chain.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { SigAlg, SignedHead } from '../../core/entries.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Journal } from './journal.js';

/** What the chain needs of a signing key (the PKCS#11 signer, or a stand-in in tests). */
export interface ChainSigner {
  readonly sigAlg: SigAlg;
  certSha256(): string;
  sign(message: Buffer): Promise<Buffer>;
}

export type SignerFault =
  | { kind: 'token_unavailable'; message: string }
  | { kind: 'token_wrong_pin'; message: string }
  | { kind: 'sign_failed'; message: string };

export interface ChainSigningOptions {
  journal: Journal;
  signer: ChainSigner;
  clock: Clock;
  log: Logger;
  /** One signature covers at most this many new entries, so every batch the publisher sends ends at a signed head. */
  maxEntriesPerSignature: number;
  /** After a failure, try again this much later (a pulled token). */
  retryMs: number;
  /** Classifies a signing error; a wrong PIN is never retried automatically. */
  classify?: (err: unknown) => SignerFault['kind'];
  /** Called before a retry, to re-open the token session. */
  reopen?: () => Promise<void>;
}

/**
 * Signs the chain head. Because entries are hash-chained, one signature covers every entry
 * before it: while a signature is in progress new entries pile up, and the next signature
 * covers them all (bounded by maxEntriesPerSignature), so a slow token never holds back the relay.
 */
export class ChainSigning extends EventEmitter<{ signed: [SignedHead]; fault: [SignerFault]; recovered: [] }> {
  private busy = false;
  private stopped = false;
  private retryTimer: TimerHandle | null = null;
  private fault: SignerFault | null = null;
  private signatures = 0;
  private maxBacklogSeen = 0;
  private headNotStored = false;

  constructor(private readonly opts: ChainSigningOptions) {
    super();
  }

  get stats() {
    return {
      signatures: this.signatures,
      unsigned: this.unsignedCount(),
      maxUnsignedSeen: this.maxBacklogSeen,
      fault: this.fault,
    };
  }

  unsignedCount(): number {
    const last = this.opts.journal.lastSignedHead();
    return this.opts.journal.head.seq - (last ? last.seq : -1);
  }

  /** New entries were journalled: sign when the signer is free. */
  kick(): void {
    const backlog = this.unsignedCount();
    if (backlog > this.maxBacklogSeen) this.maxBacklogSeen = backlog;
    if (this.busy || this.stopped || this.retryTimer || this.fault?.kind === 'token_wrong_pin') return;
    void this.run();
  }

  private async run(): Promise<void> {
    this.busy = true;
    try {
      for (;;) {
        if (this.stopped) return;
        const { journal, signer } = this.opts;
        const last = journal.lastSignedHead();
        const lastSeq = last ? last.seq : -1;
        const headSeq = journal.head.seq;
        if (headSeq <= lastSeq) return;
        const target = Math.min(headSeq, lastSeq + this.opts.maxEntriesPerSignature);
        const hash = journal.hashAt(target);
        if (!hash) throw new Error(`journal has no entry at seq ${target}`);
        const gateId = journal.identity.gateId;
        let sig: Buffer;
        try {
          sig = await signer.sign(headMessage(gateId, target, hash));
        } catch (err) {
          this.onFailure(err);
          return;
        }
        const head: SignedHead = {
          seq: target,
          hash,
          sigAlg: signer.sigAlg,
          sig: sig.toString('base64'),
          certSha256: signer.certSha256(),
        };
        try {
          journal.recordHead(head);
        } catch (err) {
          // a full disk: the entries are safe in the journal; their head is signed again later
          if (!this.headNotStored) this.opts.log.warn({ err: errorMessage(err) }, 'signed head not stored (journal full): signing again later');
          this.headNotStored = true;
          this.retryTimer = this.opts.clock.setTimeout(() => {
            this.retryTimer = null;
            this.kick();
          }, this.opts.retryMs);
          return;
        }
        this.headNotStored = false;
        this.signatures++;
        if (this.fault) {
          this.fault = null;
          this.emit('recovered');
        }
        this.emit('signed', head);
      }
    } finally {
      this.busy = false;
    }
  }

  private onFailure(err: unknown): void {
    const kind = this.opts.classify?.(err) ?? 'sign_failed';
    const fault: SignerFault = { kind, message: errorMessage(err) };
    const isNew = this.fault?.kind !== fault.kind;
    this.fault = fault;
    if (isNew) {
      this.opts.log.error({ fault: kind }, `signing stopped: ${fault.message}`);
      this.emit('fault', fault);
    }
    if (kind === 'token_wrong_pin') return; // real tokens lock after a few wrong PINs: a technician must act
    this.retryTimer = this.opts.clock.setTimeout(() => {
      this.retryTimer = null;
      void (async () => {
        try {
          await this.opts.reopen?.();
        } catch (e) {
          this.onFailure(e);
          return;
        }
        this.kick();
      })();
    }, this.opts.retryMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) this.opts.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
