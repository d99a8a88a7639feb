import type { CredentialKind, PassageEntry, PunchEntry } from '../core/entries.js';
import type { QueuedRow } from '../hub/upload-queue.js';
import type { Swipe } from './shift.js';

export interface PunchPath {
  punchId: string;
  gateId: string;
  seq: number;
  workerId: string | null;
  direction: string;
  decision: string;
  reason: string;
  /** what the worker presented; a face punch's relay delay runs from its camera frame */
  credential: CredentialKind;
  swipeAt: number;
  punchAt: number;
  cardToRelayMs: number | null;
  passage: string | null;
  passageSeq: number | null;
  signedAt: number | null;
  hubAt: number | null;
  ackedAt: number | null;
  platformAt: number | null;
  platformResult: string | null;
  /** a platform row is expected: granted with a confirmed passage */
  rowExpected: boolean;
  printed: boolean;
}

const now = () => performance.now();

/** Follows every punch through its steps, for the demo's running output and its summary. */
export class PunchTracker {
  readonly paths = new Map<string, PunchPath>();
  private readonly lastSwipe = new Map<string, number>();
  private readonly bySeq = new Map<string, Map<number, PunchPath>>();
  private readonly unsignedFrom = new Map<string, number>();
  swipes = 0;

  onSwipe(gateId: string, _s: Swipe): void {
    this.swipes++;
    this.lastSwipe.set(gateId, now());
  }

  onPunch(p: PunchEntry): void {
    const path: PunchPath = {
      punchId: p.punchId,
      gateId: p.gateId,
      seq: p.seq,
      workerId: p.workerId,
      direction: p.direction,
      decision: p.decision,
      reason: p.reason,
      credential: p.credential.kind,
      swipeAt: this.lastSwipe.get(p.gateId) ?? now(),
      punchAt: now(),
      cardToRelayMs: null,
      passage: null,
      passageSeq: null,
      signedAt: null,
      hubAt: null,
      ackedAt: null,
      platformAt: null,
      platformResult: null,
      rowExpected: false,
      printed: false,
    };
    this.paths.set(p.punchId, path);
    this.seqMap(p.gateId).set(p.seq, path);
  }

  onRelay(p: PunchEntry, ms: number): void {
    const path = this.paths.get(p.punchId);
    if (path) path.cardToRelayMs = ms;
  }

  onPassage(e: PassageEntry): void {
    const path = this.paths.get(e.punchId);
    if (!path) return;
    path.passage = e.outcome;
    path.passageSeq = e.seq;
    path.rowExpected = path.decision === 'granted' && e.outcome === 'confirmed';
  }

  onSigned(gateId: string, seq: number): void {
    const from = this.unsignedFrom.get(gateId) ?? 0;
    const m = this.seqMap(gateId);
    const t = now();
    for (let s = from; s <= seq; s++) {
      const p = m.get(s);
      if (p && p.signedAt === null) p.signedAt = t;
    }
    this.unsignedFrom.set(gateId, seq + 1);
  }

  onHubStored(entries: readonly (PunchEntry | PassageEntry)[]): void {
    const t = now();
    for (const e of entries) {
      const p = this.paths.get(e.punchId);
      if (p && e.type === 'punch' && p.hubAt === null) p.hubAt = t;
    }
  }

  onAcked(ids: readonly string[]): void {
    const t = now();
    for (const id of ids) {
      const p = this.paths.get(id);
      if (p && p.ackedAt === null) p.ackedAt = t;
    }
  }

  pollPlatform(get: (rowId: string) => QueuedRow | null): void {
    const t = now();
    for (const p of this.paths.values()) {
      if (!p.rowExpected || p.platformAt !== null) continue;
      const row = get(p.punchId);
      if (row && (row.state === 'delivered' || row.state === 'rejected')) {
        p.platformAt = t;
        p.platformResult = row.state === 'delivered' ? (row.result ?? 'accepted') : `rejected: ${row.result ?? ''}`;
      }
    }
  }

  /** Paths whose journey is over (printed once each). */
  *finished(): Generator<PunchPath> {
    for (const p of this.paths.values()) {
      if (p.printed) continue;
      const done = p.rowExpected ? p.platformAt !== null : p.ackedAt !== null && (p.decision !== 'granted' || p.passage !== null);
      if (done) {
        p.printed = true;
        yield p;
      }
    }
  }

  allSettled(): boolean {
    for (const p of this.paths.values()) {
      if (p.ackedAt === null) return false;
      if (p.decision === 'granted' && p.passage === null) return false;
      if (p.rowExpected && p.platformAt === null) return false;
    }
    return true;
  }

  private seqMap(gateId: string): Map<number, PunchPath> {
    let m = this.bySeq.get(gateId);
    if (!m) this.bySeq.set(gateId, (m = new Map()));
    return m;
  }
}
