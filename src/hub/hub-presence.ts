import type { JournalEntry, PunchEntry, PunchTime } from '../core/entries.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { MAX_PRESENCE_ENTRIES, presenceTopic, type PresenceEntry, type PresenceMessage } from '../mqtt/presence.js';

export interface HubPresenceOptions {
  siteId: string;
  /** a punch stored earlier (its passage may arrive in a later batch) */
  findPunch(gateId: string, punchId: string): PunchEntry | null;
  /** publishes at QoS 1 on the link, if there is one */
  publish(topic: string, payload: string): void;
  /**
   * The real time of a gate's reading, as the platform rows get it (clock-corrected); null while a
   * gate's unsynchronised boot has no known offset. Default: the reading when synchronised, else null.
   */
  realTimeMs?(gateId: string, time: PunchTime): number | null;
  log: Logger;
}

/**
 * Shares presence between the site's gates: after each stored batch, the confirmed passages of
 * granted punches naming a worker go out on roster/presence, so every gate's anti-passback sees
 * passages made at the others. Each carries its real time, so that a gate whose clock is wrong
 * cannot make its passages look newer or older than the others' ("newer wins" at the gates); a
 * passage whose real time is not known yet is not shared (counted `undated`): the gate's own
 * record still guards its lanes.
 */
export class HubPresence {
  readonly counters = { messages: 0, entries: 0, punchMissing: 0, undated: 0 };

  constructor(private readonly opts: HubPresenceOptions) {}

  /** The presence entries of a stored batch (in chain order), published in messages of a bounded size. */
  onStored(gateId: string, entries: readonly JournalEntry[]): PresenceEntry[] {
    const realTime = this.opts.realTimeMs ?? ((_g: string, t: PunchTime) => (t.clockSynced ? t.ms : null));
    const out: PresenceEntry[] = [];
    const found = presenceOf(gateId, entries, (punchId) => {
      const p = this.opts.findPunch(gateId, punchId);
      if (!p) this.counters.punchMissing++;
      return p;
    });
    for (const { entry, time } of found) {
      const atMs = realTime(gateId, time);
      if (atMs === null) this.counters.undated++;
      else out.push({ ...entry, atMs });
    }
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

/**
 * Confirmed passages of granted worker punches in a batch, with the gate's reading of their time;
 * a passage's punch is in the batch or found.
 */
export function presenceOf(
  gateId: string,
  entries: readonly JournalEntry[],
  findPunch: (punchId: string) => PunchEntry | null,
): { entry: PresenceEntry; time: PunchTime }[] {
  const punches = new Map<string, PunchEntry>();
  const out: { entry: PresenceEntry; time: PunchTime }[] = [];
  for (const e of entries) {
    if (e.type === 'punch') {
      punches.set(e.punchId, e);
      continue;
    }
    if (e.type !== 'passage' || e.outcome !== 'confirmed') continue;
    const punch = punches.get(e.punchId) ?? findPunch(e.punchId);
    if (!punch || punch.decision !== 'granted' || punch.workerId === null) continue;
    out.push({ entry: { workerId: punch.workerId, direction: punch.direction, atMs: e.time.ms, gateId }, time: e.time });
  }
  return out;
}
