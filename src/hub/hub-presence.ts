import type { JournalEntry, PunchEntry } from '../core/entries.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { MAX_PRESENCE_ENTRIES, presenceTopic, type PresenceEntry, type PresenceMessage } from '../mqtt/presence.js';

export interface HubPresenceOptions {
  siteId: string;
  /** a punch stored earlier (its passage may arrive in a later batch) */
  findPunch(gateId: string, punchId: string): PunchEntry | null;
  /** publishes at QoS 1 on the link, if there is one */
  publish(topic: string, payload: string): void;
  log: Logger;
}

/**
 * Shares presence between the site's gates: after each stored batch, the confirmed passages of
 * granted punches naming a worker go out on roster/presence, so every gate's anti-passback sees
 * passages made at the others.
 */
export class HubPresence {
  readonly counters = { messages: 0, entries: 0, punchMissing: 0 };

  constructor(private readonly opts: HubPresenceOptions) {}

  /** The presence entries of a stored batch (in chain order), published in messages of a bounded size. */
  onStored(gateId: string, entries: readonly JournalEntry[]): PresenceEntry[] {
    const out = presenceOf(gateId, entries, (punchId) => {
      const p = this.opts.findPunch(gateId, punchId);
      if (!p) this.counters.punchMissing++;
      return p;
    });
    for (let i = 0; i < out.length; i += MAX_PRESENCE_ENTRIES) {
      const msg: PresenceMessage = { v: 1, entries: out.slice(i, i + MAX_PRESENCE_ENTRIES) };
      try {
        this.opts.publish(presenceTopic(this.opts.siteId), JSON.stringify(msg));
        this.counters.messages++;
        this.counters.entries += msg.entries.length;
      } catch (err) {
        this.opts.log.warn({ err: errorMessage(err), gateId }, 'presence not published');
      }
    }
    return out;
  }
}

/** Confirmed passages of granted worker punches in a batch; a passage's punch is in the batch or found. */
export function presenceOf(gateId: string, entries: readonly JournalEntry[], findPunch: (punchId: string) => PunchEntry | null): PresenceEntry[] {
  const punches = new Map<string, PunchEntry>();
  const out: PresenceEntry[] = [];
  for (const e of entries) {
    if (e.type === 'punch') {
      punches.set(e.punchId, e);
      continue;
    }
    if (e.type !== 'passage' || e.outcome !== 'confirmed') continue;
    const punch = punches.get(e.punchId) ?? findPunch(e.punchId);
    if (!punch || punch.decision !== 'granted' || punch.workerId === null) continue;
    out.push({ workerId: punch.workerId, direction: punch.direction, atMs: e.time.ms, gateId });
  }
  return out;
}
