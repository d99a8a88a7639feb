import { certSha256, certValidity } from '../core/cert.js';
import { entryHash, genesisHash, headMessage, verifyChainSegment, type ChainProblem } from '../core/chain.js';
import type { JournalEntry, PunchAck, PunchBatch, SigAlg } from '../core/entries.js';
import type { Logger } from '../core/log.js';
import { parsePayload, punchBatchSchema } from '../mqtt/schemas.js';
import { gateIdFromTopic } from '../mqtt/topics.js';
import type { HubStore } from './store.js';

/** A commissioned gate: its certificate is pinned by SHA-256 and trusted, not a CA chain. */
export interface PinnedGate {
  gateId: string;
  epoch: number;
  certDer: Buffer;
  certSha256: string;
  /** the certificate's validity, judged against the hub's receive time */
  notBeforeMs: number;
  notAfterMs: number;
}

/** A gate sending a chain of an epoch it is not commissioned for (a new controller, a wiped journal, a replay). */
export interface EpochMismatch {
  epoch: number;
  commissioned: number;
  /** batches refused for this epoch */
  batches: number;
  lastMs: number;
}

export type RejectReason =
  | 'bad_topic'
  | 'malformed'
  | 'gate_mismatch'
  | 'unknown_gate'
  | 'unexpected_epoch'
  | 'cert_not_pinned'
  | 'bad_signature'
  | 'chain_gap'
  | 'chain_fork'
  | 'altered';

export type IngestOutcome =
  | { kind: 'stored'; ack: PunchAck; newEntries: number; replayed: number; quarantined: boolean; stored: readonly JournalEntry[] }
  | { kind: 'rejected'; reason: RejectReason; detail: string; ack?: PunchAck };

export interface IngestOptions {
  siteId: string;
  store: HubStore;
  gates: () => ReadonlyMap<string, PinnedGate>;
  verify: (certDer: Buffer, sigAlg: SigAlg, message: Buffer, sig: Buffer) => boolean;
  /** the hub's receive time: certificate validity is judged by it (a gate may have no RTC) */
  now: () => number;
  log: Logger;
  /** Runs inside the storing transaction with the entries just stored (platform rows, presence…). */
  onStored?: (gateId: string, entries: readonly JournalEntry[], quarantined: boolean) => void;
}

/**
 * Checks a gate's punch batch — topic, schema, gate, pinned certificate, signature, chain —
 * de-duplicates by position in the chain (a replay is acknowledged again, stored once) and
 * stores it before anything is acknowledged.
 */
export class Ingest {
  readonly counters: Record<RejectReason | 'stored' | 'replayed' | 'quarantined' | 'batches', number> = {
    batches: 0,
    stored: 0,
    replayed: 0,
    quarantined: 0,
    bad_topic: 0,
    malformed: 0,
    gate_mismatch: 0,
    unknown_gate: 0,
    unexpected_epoch: 0,
    cert_not_pinned: 0,
    bad_signature: 0,
    chain_gap: 0,
    chain_fork: 0,
    altered: 0,
  };

  /** Per gate: the last batch refused for an epoch other than the commissioned one (shown in the status). */
  readonly epochMismatches = new Map<string, EpochMismatch>();

  constructor(private readonly opts: IngestOptions) {}

  /** Forgets mismatches the current commissioning has settled (call after the gates are re-read). */
  settleEpochMismatches(): void {
    const gates = this.opts.gates();
    for (const [gateId, m] of this.epochMismatches) {
      const g = gates.get(gateId);
      if (!g || g.epoch === m.epoch) this.epochMismatches.delete(gateId);
    }
  }

  handle(topic: string, payload: Buffer): IngestOutcome {
    this.counters.batches++;
    const outcome = this.evaluate(topic, payload);
    if (outcome.kind === 'rejected') {
      this.counters[outcome.reason]++;
      this.opts.log.warn({ topic, reason: outcome.reason, detail: outcome.detail }, 'punch batch rejected');
    }
    return outcome;
  }

  private evaluate(topic: string, payload: Buffer): IngestOutcome {
    const topicGate = gateIdFromTopic(this.opts.siteId, topic);
    if (!topicGate || !topic.endsWith('/punch')) return reject('bad_topic', `not a punch topic of site ${this.opts.siteId}`);
    const parsed = parsePayload(punchBatchSchema, payload);
    if (!parsed.ok) return reject('malformed', parsed.error);
    const batch = parsed.value as PunchBatch;
    if (batch.gateId !== topicGate) return reject('gate_mismatch', `payload names gate ${batch.gateId} on gate ${topicGate}'s topic`);
    if (batch.entries.some((e) => e.gateId !== batch.gateId)) return reject('gate_mismatch', 'an entry names another gate');
    const gate = this.opts.gates().get(batch.gateId);
    if (!gate) return reject('unknown_gate', `gate ${batch.gateId} is not commissioned at this hub`);
    if (batch.epoch !== gate.epoch) {
      const seen = this.epochMismatches.get(gate.gateId);
      this.epochMismatches.set(gate.gateId, {
        epoch: batch.epoch,
        commissioned: gate.epoch,
        batches: (seen?.epoch === batch.epoch ? seen.batches : 0) + 1,
        lastMs: this.opts.now(),
      });
      return reject('unexpected_epoch', `epoch ${batch.epoch}, commissioned ${gate.epoch}: re-commission the gate (gates[].epoch) to accept a new chain`);
    }
    if (batch.head.certSha256 !== gate.certSha256) return reject('cert_not_pinned', 'head is signed with a certificate other than the pinned one');
    const msg = headMessage(batch.gateId, batch.head.seq, batch.head.hash);
    if (!this.opts.verify(gate.certDer, batch.head.sigAlg, msg, Buffer.from(batch.head.sig, 'base64'))) {
      return reject('bad_signature', `signature over seq ${batch.head.seq} does not verify with the pinned certificate`);
    }
    return this.store(batch, gate);
  }

  private store(batch: PunchBatch, gate: PinnedGate): IngestOutcome {
    const { store } = this.opts;
    const receivedMs = this.opts.now();
    const quarantined = receivedMs < gate.notBeforeMs || receivedMs > gate.notAfterMs;
    return store.transaction((): IngestOutcome => {
      const state = store.chainState(batch.gateId);
      const nextSeq = state && state.epoch === gate.epoch ? state.nextSeq : 0;
      const lastHash =
        state && state.epoch === gate.epoch ? state.lastHash : genesisHash(batch.gateId, gate.certSha256, gate.epoch);
      // Entries the hub already holds must be the very same entries (a replay), never different ones.
      let replayed = 0;
      for (const e of batch.entries) {
        if (e.seq >= nextSeq) break;
        const stored = store.hashAt(batch.gateId, gate.epoch, e.seq);
        if (stored !== entryHash(e)) return reject('altered', `entry seq ${e.seq} differs from the one stored`);
        replayed++;
      }
      const fresh = batch.entries.slice(replayed);
      const punchIds = [...new Set(batch.entries.map((e) => e.punchId))];
      if (!fresh.length) {
        if (store.hashAt(batch.gateId, gate.epoch, batch.head.seq) !== batch.head.hash) return reject('altered', 'replayed head differs');
        this.counters.replayed += replayed;
        return { kind: 'stored', ack: { gateId: batch.gateId, seq: nextSeq - 1, punchIds }, newEntries: 0, replayed, quarantined: false, stored: [] };
      }
      const check = verifyChainSegment(batch.gateId, { nextSeq, prevHash: lastHash }, fresh, batch.head);
      if (!check.ok) return this.chainRejection(check.problem, batch.gateId, nextSeq);
      store.appendVerified(batch.gateId, gate.epoch, fresh, check.hashes, batch.head, receivedMs, quarantined);
      this.opts.onStored?.(batch.gateId, fresh, quarantined);
      this.counters.stored += fresh.length;
      this.counters.replayed += replayed;
      if (quarantined) this.counters.quarantined += fresh.length;
      const last = fresh[fresh.length - 1].seq;
      return { kind: 'stored', ack: { gateId: batch.gateId, seq: last, punchIds }, newEntries: fresh.length, replayed, quarantined, stored: fresh };
    });
  }

  private chainRejection(problem: ChainProblem, gateId: string, nextSeq: number): IngestOutcome {
    const ack: PunchAck = { gateId, seq: nextSeq - 1, punchIds: [] };
    switch (problem.kind) {
      case 'gap':
        return { ...reject('chain_gap', `expected seq ${problem.expectedSeq}, got ${problem.gotSeq}`), ack };
      case 'fork':
        return reject('chain_fork', `entry seq ${problem.seq} does not continue the stored chain`);
      case 'gateMismatch':
        return reject('gate_mismatch', `entry seq ${problem.seq} names another gate`);
      case 'headMismatch':
        return reject('altered', `entries do not hash to the signed head at seq ${problem.headSeq}`);
    }
  }
}

/** Pins a commissioned gate's certificate: its SHA-256 and validity are computed once, here. */
export function pinGate(gateId: string, epoch: number, certDer: Buffer): PinnedGate {
  const validity = certValidity(certDer);
  return {
    gateId,
    epoch,
    certDer,
    certSha256: certSha256(certDer),
    notBeforeMs: validity.notBefore.getTime(),
    notAfterMs: validity.notAfter.getTime(),
  };
}

function reject(reason: RejectReason, detail: string): Extract<IngestOutcome, { kind: 'rejected' }> {
  return { kind: 'rejected', reason, detail };
}
