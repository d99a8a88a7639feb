import { EventEmitter } from 'node:events';
import type { Clock } from '../core/clock.js';
import { credentialHmac } from '../core/credential.js';
import type { CredentialKind, Direction, PassageEntry, PassageOutcome, PunchEntry, PunchTime } from '../core/entries.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import { newPunchId } from '../core/ids.js';
import type { Logger } from '../core/log.js';
import type { PresenceLookup } from '../core/presence.js';
import { decide } from '../core/rules.js';
import type { SiteRules } from '../core/site-rules.js';
import type { RosterWorker } from '../core/worker.js';
import type { Journal } from './punch/journal.js';

/** A credential as a reader produced it; the number never leaves this process unhashed. */
export interface CredentialRead {
  kind: CredentialKind;
  number: string;
  lane: string;
  direction: Direction;
  /** monotonic ms when the reader's frame was complete */
  readAtMono: number;
  /**
   * A face read (kind 'face'): the worker the 1:N search named (`number` is that workerId too),
   * the match score, the liveness the policy judged, and the photo already stored.
   */
  face?: { workerId: string; score: number; liveness: number; photoHash: string | null };
}

/** What the controller needs of a lane's turnstile. */
export interface LaneActuator {
  /** True while a passage is open: a read then is ignored (the worker is still in the turnstile). */
  readonly busy: boolean;
  /** Sets the relay line before it returns; the promise settles with the passage. */
  open(direction: Direction): Promise<{ outcome: PassageOutcome; sensorCount: number }>;
}

export interface RosterLookup {
  findByCredential(kind: CredentialKind, hmac: string): RosterWorker | null;
  /** the worker a face search named (faces are found by workerId, not by a credential HMAC) */
  findWorker?(workerId: string): RosterWorker | null;
  siteKey(): Buffer | null;
  /** the site's rules from the roster; null or absent: the defaults */
  rules?(): SiteRules | null;
}

/** Reason of a punch refused because an operator locked the lane down (not a rule of core/). */
export const LOCKDOWN_REASON = 'lockdown';
/** Reason of a punch recording a technician's or operator's manual open. */
export const MANUAL_OPEN_REASON = 'manual_open';
/** Reason of a swipe denied because the journal holds more than its capacity (journal.onOverflow 'deny'). */
export const JOURNAL_FULL_REASON = 'journal_full';

/** What the site decides while the journal is over capacity. */
export type OverflowPolicy = 'keep-open' | 'deny';

export interface AccessControllerOptions {
  siteId: string;
  gateId: string;
  journal: Journal;
  roster: RosterLookup;
  lanes: ReadonlyMap<string, LaneActuator>;
  clock: Clock;
  log: Logger;
  bootId: string;
  clockSynced: () => boolean;
  /** true while an operator holds the lane locked down: every credential is refused */
  lockedDown?: (lane: string) => boolean;
  /**
   * card+face mode: the worker a live face seen just now verifies as (1:1 against `workerId`'s
   * templates); undefined: no recent face; null: a face that is not this worker.
   */
  faceFactor?: (workerId: string) => string | null | undefined;
  /** what to do while the journal is over capacity (default 'keep-open'); read at every swipe */
  overflow?: () => OverflowPolicy;
  /** where each worker was last seen (anti-passback); absent: presence unknown */
  presence?: PresenceLookup;
}

export interface PunchEvents {
  /** the punch entry is committed (before the relay opens) */
  punch: [PunchEntry, RosterWorker | null];
  /** relay line set: from the reader's complete frame, journal commit included */
  relay: [PunchEntry, number];
  passage: [PassageEntry];
  /** a journal entry was appended (the head signer listens) */
  journalled: [];
  /** a read that could not be journalled (disk full…): nothing was opened */
  refused: [CredentialRead, SitegateError];
  /** a passage entry could not be journalled: it is held and retried (retryHeld) */
  held: [SitegateError];
  /** the journal went over its capacity (true) or back under it (false) */
  overCapacity: [boolean, number];
  error: [Error];
}

/**
 * credential → identify → decide → journal → actuate → passage. The punch is committed before
 * the relay opens, so a swipe that opened the turnstile is never lost; signing and publishing
 * happen later and never delay the relay.
 */
export class AccessController extends EventEmitter<PunchEvents> {
  readonly counters = { swipes: 0, granted: 0, denied: 0, relayPulses: 0, passages: 0, ignoredBusy: 0, errors: 0, refused: 0, manualOpens: 0, journalFull: 0 };
  private over = false;
  /** passage entries that could not be journalled yet (disk full), oldest first */
  private held: { punch: PunchEntry; outcome: PassageOutcome; sensorCount: number; time: PunchTime }[] = [];

  constructor(private readonly opts: AccessControllerOptions) {
    super();
  }

  /** At start-up: every granted punch without a passage entry was cut short. */
  closeInterruptedPassages(): number {
    const dangling = this.opts.journal.danglingGrantedPunches();
    for (const p of dangling) {
      const entry = this.opts.journal.appendPassage({
        gateId: this.opts.gateId,
        punchId: p.punchId,
        outcome: 'interrupted',
        sensorCount: 0,
        time: this.time(),
      });
      this.emit('passage', entry);
    }
    if (dangling.length) this.emit('journalled');
    return dangling.length;
  }

  /** Handles one credential read. Errors are reported, never thrown at the reader. */
  handle(read: CredentialRead): PunchEntry | null {
    try {
      return this.decideAndAct(read);
    } catch (err) {
      this.counters.errors++;
      if (err instanceof SitegateError && err.code.startsWith('journal_')) {
        this.counters.refused++;
        this.opts.log.error({ code: err.code, lane: read.lane }, `swipe refused, nothing opened: ${err.message}`);
        this.emit('refused', read, err);
        return null;
      }
      this.opts.log.error({ err: errorMessage(err), lane: read.lane }, 'credential handling failed');
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
      return null;
    }
  }

  private decideAndAct(read: CredentialRead): PunchEntry | null {
    const { journal, roster, clock } = this.opts;
    const lane = this.opts.lanes.get(read.lane);
    if (lane?.busy) {
      this.counters.ignoredBusy++;
      return null;
    }
    this.retryHeld();
    const siteKey = roster.siteKey();
    this.counters.swipes++;
    const hmac = siteKey ? credentialHmac(siteKey, read.kind, read.number) : '0'.repeat(64);
    const worker = this.identify(read, siteKey, hmac);
    const rules = roster.rules?.() ?? undefined;
    const full = this.checkCapacity() && (this.opts.overflow?.() ?? 'keep-open') === 'deny';
    const verdict: { decision: 'granted' | 'denied'; reason: string } = !lane
      ? { decision: 'denied', reason: 'no_such_lane' }
      : this.opts.lockedDown?.(read.lane)
        ? { decision: 'denied', reason: LOCKDOWN_REASON }
        : full
          ? { decision: 'denied', reason: JOURNAL_FULL_REASON }
          : decide(worker, {
              nowMs: clock.now(),
              direction: read.direction,
              rules,
              presence: worker ? (this.opts.presence?.presenceOf(worker.workerId) ?? null) : null,
              factors: this.factors(read, worker, rules),
            });
    if (verdict.reason === JOURNAL_FULL_REASON) this.counters.journalFull++;
    const entry = journal.appendPunch({
      punchId: newPunchId(),
      gateId: this.opts.gateId,
      siteId: this.opts.siteId,
      lane: read.lane,
      direction: read.direction,
      time: this.time(),
      workerId: worker?.workerId ?? null,
      credential: { kind: read.kind, hmac },
      decision: verdict.decision,
      reason: verdict.reason,
      face: read.face ? { score: read.face.score, liveness: read.face.liveness } : null,
      photoHash: read.face?.photoHash ?? null,
    });
    this.emit('punch', entry, worker);
    this.emit('journalled');
    if (entry.decision !== 'granted' || !lane) {
      this.counters.denied++;
      return entry;
    }
    this.counters.granted++;
    this.actuate(lane, entry, read.readAtMono);
    return entry;
  }

  private identify(read: CredentialRead, siteKey: Buffer | null, hmac: string): RosterWorker | null {
    if (read.kind === 'face') {
      const id = read.face?.workerId ?? read.number;
      return this.opts.roster.findWorker?.(id) ?? null;
    }
    return siteKey ? this.opts.roster.findByCredential(read.kind, hmac) : null;
  }

  /** card+face mode: what each factor named (a card read asks for the live face seen just now). */
  private factors(read: CredentialRead, worker: RosterWorker | null, rules: SiteRules | undefined): { card?: string | null; face?: string | null } | undefined {
    if (rules?.verification !== 'card+face') return undefined;
    if (read.kind === 'face') return { face: worker?.workerId ?? null };
    const card = worker?.workerId ?? null;
    return { card, face: worker ? this.opts.faceFactor?.(worker.workerId) : undefined };
  }

  /**
   * True while the journal holds more unacknowledged entries than it promises to; emits
   * `overCapacity` on each change (the gate raises or clears its fault).
   */
  checkCapacity(): boolean {
    const over = this.opts.journal.overCapacity;
    if (over !== this.over) {
      this.over = over;
      this.emit('overCapacity', over, this.opts.journal.unackedCount());
    }
    return over;
  }

  /**
   * Opens a lane once for a technician (`sitegate open`) or an operator (MQTT open-once): a
   * granted punch with credential kind `manual` and no worker is journalled first, like any
   * swipe, and its passage is tracked. Rejects with `unknown_lane` or `lane_busy`; a journal
   * that cannot take the entry rejects too, and nothing opens.
   */
  manualOpen(laneName: string, direction: Direction, who: string): { entry: PunchEntry; passage: Promise<PassageOutcome> } {
    const lane = this.opts.lanes.get(laneName);
    if (!lane) throw new SitegateError('unknown_lane', `this gate has no lane "${laneName}"`);
    if (lane.busy) throw new SitegateError('lane_busy', `lane ${laneName} is open for a passage right now`);
    this.retryHeld();
    const key = this.opts.roster.siteKey() ?? Buffer.alloc(32);
    const entry = this.opts.journal.appendPunch({
      punchId: newPunchId(),
      gateId: this.opts.gateId,
      siteId: this.opts.siteId,
      lane: laneName,
      direction,
      time: this.time(),
      workerId: null,
      credential: { kind: 'manual', hmac: credentialHmac(key, 'manual', who) },
      decision: 'granted',
      reason: MANUAL_OPEN_REASON,
      face: null,
      photoHash: null,
    });
    this.counters.manualOpens++;
    this.emit('punch', entry, null);
    this.emit('journalled');
    return { entry, passage: this.actuate(lane, entry, this.opts.clock.monotonic()) };
  }

  private actuate(lane: LaneActuator, entry: PunchEntry, readAtMono: number): Promise<PassageOutcome> {
    const passage = lane.open(entry.direction);
    this.counters.relayPulses++;
    this.emit('relay', entry, this.opts.clock.monotonic() - readAtMono);
    return passage.then(
      (p) => {
        this.recordPassage(entry, p.outcome, p.sensorCount);
        return p.outcome;
      },
      (err) => {
        this.opts.log.error({ err: errorMessage(err) }, 'passage tracking failed');
        this.recordPassage(entry, 'interrupted', 0);
        return 'interrupted' as const;
      },
    );
  }

  /** Passage entries still waiting for room in the journal. */
  get heldCount(): number {
    return this.held.length;
  }

  /** Journals held passage entries, oldest first; stops at the first that still fails. */
  retryHeld(): number {
    let n = 0;
    while (this.held.length) {
      const h = this.held[0];
      try {
        this.appendPassage(h.punch, h.outcome, h.sensorCount, h.time);
      } catch {
        break;
      }
      this.held.shift();
      n++;
    }
    return n;
  }

  private recordPassage(punch: PunchEntry, outcome: PassageOutcome, sensorCount: number): void {
    const time = this.time();
    if (this.held.length) {
      this.held.push({ punch, outcome, sensorCount, time });
      this.retryHeld();
      return;
    }
    try {
      this.appendPassage(punch, outcome, sensorCount, time);
    } catch (err) {
      this.counters.errors++;
      // kept in memory and retried; after a restart, start-up closes it as interrupted
      this.held.push({ punch, outcome, sensorCount, time });
      this.opts.log.error({ err: errorMessage(err), punchId: punch.punchId }, 'passage entry could not be journalled yet; held');
      this.emit('held', err instanceof SitegateError ? err : new SitegateError('journal_write_failed', errorMessage(err)));
    }
  }

  private appendPassage(punch: PunchEntry, outcome: PassageOutcome, sensorCount: number, time: PunchTime): void {
    const entry = this.opts.journal.appendPassage({ gateId: this.opts.gateId, punchId: punch.punchId, outcome, sensorCount, time });
    this.counters.passages++;
    this.emit('passage', entry);
    this.emit('journalled');
  }

  private time(): PunchTime {
    const { clock } = this.opts;
    return { ms: clock.now(), clockSynced: this.opts.clockSynced(), bootId: this.opts.bootId, monoMs: Math.round(clock.monotonic()) };
  }
}
