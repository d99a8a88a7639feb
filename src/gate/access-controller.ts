import { EventEmitter } from 'node:events';
import type { Clock } from '../core/clock.js';
import { credentialHmac } from '../core/credential.js';
import type { CredentialKind, Direction, PassageEntry, PassageOutcome, PunchEntry, PunchTime } from '../core/entries.js';
import { errorMessage } from '../core/errors.js';
import { newPunchId } from '../core/ids.js';
import type { Logger } from '../core/log.js';
import { decide } from '../core/rules.js';
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
  siteKey(): Buffer | null;
}

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
}

export interface PunchEvents {
  /** the punch entry is committed (before the relay opens) */
  punch: [PunchEntry, RosterWorker | null];
  /** relay line set: from the reader's complete frame, journal commit included */
  relay: [PunchEntry, number];
  passage: [PassageEntry];
  /** a journal entry was appended (the head signer listens) */
  journalled: [];
  error: [Error];
}

/**
 * credential → identify → decide → journal → actuate → passage. The punch is committed before
 * the relay opens, so a swipe that opened the turnstile is never lost; signing and publishing
 * happen later and never delay the relay.
 */
export class AccessController extends EventEmitter<PunchEvents> {
  readonly counters = { swipes: 0, granted: 0, denied: 0, relayPulses: 0, passages: 0, ignoredBusy: 0, errors: 0 };

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
    const siteKey = roster.siteKey();
    this.counters.swipes++;
    const hmac = siteKey ? credentialHmac(siteKey, read.kind, read.number) : '0'.repeat(64);
    const worker = siteKey ? roster.findByCredential(read.kind, hmac) : null;
    const verdict = lane ? decide(worker, { nowMs: clock.now(), direction: read.direction }) : { decision: 'denied' as const, reason: 'no_such_lane' };
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
      face: null,
      photoHash: null,
    });
    this.emit('punch', entry, worker);
    this.emit('journalled');
    if (entry.decision !== 'granted' || !lane) {
      this.counters.denied++;
      return entry;
    }
    this.counters.granted++;
    const passage = lane.open(read.direction);
    this.counters.relayPulses++;
    this.emit('relay', entry, clock.monotonic() - read.readAtMono);
    void passage.then(
      (p) => this.recordPassage(entry, p.outcome, p.sensorCount),
      (err) => {
        this.opts.log.error({ err: errorMessage(err) }, 'passage tracking failed');
        this.recordPassage(entry, 'interrupted', 0);
      },
    );
    return entry;
  }

  private recordPassage(punch: PunchEntry, outcome: PassageOutcome, sensorCount: number): void {
    try {
      const entry = this.opts.journal.appendPassage({
        gateId: this.opts.gateId,
        punchId: punch.punchId,
        outcome,
        sensorCount,
        time: this.time(),
      });
      this.counters.passages++;
      this.emit('passage', entry);
      this.emit('journalled');
    } catch (err) {
      this.counters.errors++;
      this.opts.log.error({ err: errorMessage(err) }, 'passage entry could not be journalled');
    }
  }

  private time(): PunchTime {
    const { clock } = this.opts;
    return { ms: clock.now(), clockSynced: this.opts.clockSynced(), bootId: this.opts.bootId, monoMs: Math.round(clock.monotonic()) };
  }
}
