import { createHash } from 'node:crypto';
import { canonicalBytes, sha256Hex } from './canonical.js';
import type { JournalEntry } from './entries.js';

/**
 * prevHash of seq 0: SHA-256(gateId ‖ certificate SHA-256 ‖ epoch), with the gateId as UTF-8,
 * the certificate digest as its 32 raw bytes and the epoch as a 64-bit big-endian integer.
 */
export function genesisHash(gateId: string, certSha256Hex: string, epoch: number): string {
  if (!/^[0-9a-f]{64}$/.test(certSha256Hex)) throw new TypeError('certSha256 must be 64 hex digits');
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new TypeError('epoch must be a non-negative integer');
  const e = Buffer.alloc(8);
  e.writeBigUInt64BE(BigInt(epoch));
  return createHash('sha256')
    .update(Buffer.from(gateId, 'utf8'))
    .update(Buffer.from(certSha256Hex, 'hex'))
    .update(e)
    .digest('hex');
}

/** Hash of an entry: SHA-256 of its canonical (RFC 8785) JSON, prevHash and seq included. */
export function entryHash(entry: JournalEntry): string {
  return sha256Hex(canonicalBytes(entry));
}

/**
 * The bytes a gate signs for a chain head. Naming the gate and the seq binds the signature to
 * one position of one gate's chain.
 */
export function headMessage(gateId: string, seq: number, hash: string): Buffer {
  return Buffer.from(`sitegate-head-v1\n${gateId}\n${seq}\n${hash}`, 'utf8');
}

export type ChainProblem =
  | { kind: 'gap'; expectedSeq: number; gotSeq: number }
  | { kind: 'fork'; seq: number; expectedPrevHash: string; gotPrevHash: string }
  | { kind: 'gateMismatch'; seq: number }
  | { kind: 'headMismatch'; headSeq: number; headHash: string; computedHash: string | null };

/**
 * Walks entries that must continue a chain from (nextSeq, prevHash) and end at the signed head.
 * Returns the entries' hashes, or the first problem found.
 */
export function verifyChainSegment(
  gateId: string,
  start: { nextSeq: number; prevHash: string },
  entries: readonly JournalEntry[],
  head: { seq: number; hash: string },
): { ok: true; hashes: string[] } | { ok: false; problem: ChainProblem } {
  let seq = start.nextSeq;
  let prev = start.prevHash;
  const hashes: string[] = [];
  for (const e of entries) {
    if (e.gateId !== gateId) return { ok: false, problem: { kind: 'gateMismatch', seq: e.seq } };
    if (e.seq !== seq) return { ok: false, problem: { kind: 'gap', expectedSeq: seq, gotSeq: e.seq } };
    if (e.prevHash !== prev)
      return { ok: false, problem: { kind: 'fork', seq: e.seq, expectedPrevHash: prev, gotPrevHash: e.prevHash } };
    prev = entryHash(e);
    hashes.push(prev);
    seq++;
  }
  const last = entries.length ? entries[entries.length - 1].seq : start.nextSeq - 1;
  const computed = entries.length ? prev : null;
  if (last !== head.seq || (computed !== null && computed !== head.hash)) {
    return { ok: false, problem: { kind: 'headMismatch', headSeq: head.seq, headHash: head.hash, computedHash: computed } };
  }
  return { ok: true, hashes };
}
