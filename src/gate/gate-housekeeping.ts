import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Journal } from './punch/journal.js';

const DAY_MS = 86_400_000;

export interface JournalHousekeepingOptions {
  journal: Journal;
  clock: Clock;
  log: Logger;
  /** acknowledged entries older than this many days are pruned */
  pruneAfterDays: number;
  /** at most this many acknowledged entries are kept */
  keepAckedRows: number;
  /** how often, on the gate's clock (default hourly) */
  everyMs?: number;
  /** after each round (the gate re-checks the journal's capacity) */
  afterRound?: () => void;
}

/**
 * Prunes the journal on the gate's clock: acknowledged entries past their age or beyond the
 * kept count go; nothing the hub has not acknowledged is ever touched.
 */
export class JournalHousekeeping {
  readonly counters = { rounds: 0, prunedEntries: 0, prunedHeads: 0, failures: 0 };
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(private readonly opts: JournalHousekeepingOptions) {}

  start(): void {
    this.schedule();
  }

  /** One round now; returns what went. */
  pruneNow(): { entries: number; heads: number } {
    const { journal, log } = this.opts;
    this.counters.rounds++;
    try {
      const r = journal.prune({ maxAgeMs: this.opts.pruneAfterDays * DAY_MS, maxAckedRows: this.opts.keepAckedRows });
      this.counters.prunedEntries += r.entries;
      this.counters.prunedHeads += r.heads;
      if (r.entries || r.heads) log.info({ entries: r.entries, heads: r.heads }, 'journal pruned');
      return r;
    } catch (err) {
      this.counters.failures++;
      log.warn({ err: errorMessage(err) }, 'journal pruning failed; tried again next round');
      return { entries: 0, heads: 0 };
    } finally {
      this.opts.afterRound?.();
    }
  }

  private schedule(): void {
    this.timer = this.opts.clock.setTimeout(() => {
      this.timer = null;
      if (this.stopped) return;
      this.pruneNow();
      this.schedule();
    }, this.opts.everyMs ?? 3_600_000);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) this.opts.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}
