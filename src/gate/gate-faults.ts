import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';

export interface GateFault {
  /** e.g. journal_disk_full, token_unavailable, reader_fault */
  code: string;
  /** what is affected, e.g. `L1.in` for a reader; '' for the gate as a whole */
  subject: string;
  message: string;
  /** wall ms when it was raised */
  atMs: number;
}

const KEEP_HISTORY = 20;

/**
 * The gate's raised faults (one per code and subject) and a short history of the last ones,
 * cleared as well as active, for `sitegate status`. Raising an active fault again only updates
 * its message; each transition is logged once.
 */
export class GateFaults {
  private readonly active = new Map<string, GateFault>();
  private readonly history: (GateFault & { clearedMs: number | null })[] = [];
  private raisedCount = 0;
  private onChange: (() => void) | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Called after every raise or clear (the gate republishes its status). */
  setListener(cb: () => void): void {
    this.onChange = cb;
  }

  raise(code: string, subject: string, message: string): void {
    const key = `${code}\u0000${subject}`;
    const have = this.active.get(key);
    if (have) {
      have.message = message;
      return;
    }
    const f: GateFault = { code, subject, message, atMs: this.clock.now() };
    this.active.set(key, f);
    this.raisedCount++;
    this.history.push({ ...f, clearedMs: null });
    if (this.history.length > KEEP_HISTORY) this.history.shift();
    this.log.error({ fault: code, subject: subject || undefined }, `fault raised: ${message}`);
    this.onChange?.();
  }

  clear(code: string, subject = ''): boolean {
    const key = `${code}\u0000${subject}`;
    const f = this.active.get(key);
    if (!f) return false;
    this.active.delete(key);
    const h = this.history.findLast((x) => x.code === code && x.subject === subject && x.clearedMs === null);
    if (h) h.clearedMs = this.clock.now();
    this.log.info({ fault: code, subject: subject || undefined }, `fault cleared: ${f.message}`);
    this.onChange?.();
    return true;
  }

  has(code: string, subject = ''): boolean {
    return this.active.has(`${code}\u0000${subject}`);
  }

  list(): GateFault[] {
    return [...this.active.values()];
  }

  /** The last faults raised, newest last, with when they cleared (null: still active). */
  recent(): readonly (GateFault & { clearedMs: number | null })[] {
    return this.history;
  }

  get raised(): number {
    return this.raisedCount;
  }
}
