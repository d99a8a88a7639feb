import Database from 'better-sqlite3';
import type { Direction, PassageEntry, PunchEntry } from '../core/entries.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Presence, PresenceLookup } from '../core/presence.js';
import { presenceMessageSchema, presenceTopic } from '../mqtt/presence.js';

export interface GatePresenceOptions {
  /** the SQLite file (stateDir/presence.db); it survives restarts */
  path: string;
  siteId: string;
  log: Logger;
}

interface Row {
  direction: Direction;
  at_ms: number;
  source: 'hub' | 'local';
}

/**
 * Where each worker was last seen, for anti-passback: the hub's site-wide presence messages and
 * this gate's own confirmed passages (the fallback while the hub is away). Per worker the newer
 * passage wins; at the same instant the hub's view wins.
 */
export class GatePresence implements PresenceLookup {
  /** behindKnown: own passages whose wall time was not after the worker's stored record (filed just after it) */
  readonly counters = { local: 0, behindKnown: 0, hubMessages: 0, hubEntries: 0, rejected: 0, older: 0 };
  private db: Database.Database | null = null;
  private stmt!: { get: Database.Statement; put: Database.Statement };

  constructor(private readonly opts: GatePresenceOptions) {}

  start(): void {
    if (this.db) return;
    const db = new Database(this.opts.path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`CREATE TABLE IF NOT EXISTS presence (
      worker_id TEXT PRIMARY KEY,
      direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
      at_ms INTEGER NOT NULL,
      source TEXT NOT NULL CHECK (source IN ('hub', 'local')),
      gate_id TEXT
    ) WITHOUT ROWID`);
    this.stmt = {
      get: db.prepare('SELECT direction, at_ms, source FROM presence WHERE worker_id = ?'),
      put: db.prepare(`INSERT INTO presence (worker_id, direction, at_ms, source, gate_id) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (worker_id) DO UPDATE SET direction = excluded.direction, at_ms = excluded.at_ms, source = excluded.source, gate_id = excluded.gate_id
        WHERE excluded.at_ms > presence.at_ms OR (excluded.at_ms = presence.at_ms AND excluded.source = 'hub')`),
    };
    this.db = db;
  }

  stop(): void {
    this.db?.close();
    this.db = null;
  }

  /** The topic the gate subscribes to (QoS 1). */
  get topic(): string {
    return presenceTopic(this.opts.siteId);
  }

  presenceOf(workerId: string): Presence | null {
    if (!this.db) return null;
    const r = this.stmt.get.get(workerId) as Row | undefined;
    return r ? { direction: r.direction, atMs: r.at_ms, source: r.source } : null;
  }

  /** Keeps a passage unless the worker already has a newer one; true when it was kept. */
  record(workerId: string, direction: Direction, atMs: number, source: 'hub' | 'local', gateId: string | null = null): boolean {
    if (!this.db) return false;
    const kept = this.stmt.put.run(workerId, direction, atMs, source, gateId).changes > 0;
    if (!kept) this.counters.older++;
    return kept;
  }

  /**
   * This gate's own passage: a confirmed passage of a granted punch naming a worker counts. It
   * happened now, so it is newer than anything stored for the worker, whatever the gate's wall
   * clock says: a clock running behind the hub's corrected times would otherwise file the passage
   * under the hub's older record, and anti-passback would judge the worker's next punch by that.
   */
  onPassage(punch: PunchEntry | undefined, passage: PassageEntry): boolean {
    if (!punch || punch.decision !== 'granted' || punch.workerId === null || passage.outcome !== 'confirmed') return false;
    this.counters.local++;
    try {
      const known = this.presenceOf(punch.workerId);
      const atMs = known && known.atMs >= passage.time.ms ? known.atMs + 1 : passage.time.ms;
      if (atMs !== passage.time.ms) this.counters.behindKnown++;
      return this.record(punch.workerId, punch.direction, atMs, 'local', passage.gateId);
    } catch (err) {
      this.opts.log.error({ err: errorMessage(err) }, 'presence not recorded');
      return false;
    }
  }

  /** Takes the hub's presence message; false for any other topic. A malformed one is counted and ignored. */
  handleMessage(topic: string, payload: Buffer): boolean {
    if (topic !== this.topic) return false;
    let raw: unknown;
    try {
      raw = JSON.parse(payload.toString('utf8'));
    } catch {
      return this.reject('not JSON');
    }
    const parsed = presenceMessageSchema.safeParse(raw);
    if (!parsed.success) return this.reject(parsed.error.issues[0]?.message ?? 'invalid');
    if (!this.db) return true;
    this.counters.hubMessages++;
    this.counters.hubEntries += parsed.data.entries.length;
    try {
      this.db.transaction(() => {
        for (const e of parsed.data.entries) this.record(e.workerId, e.direction, e.atMs, 'hub', e.gateId);
      })();
    } catch (err) {
      this.opts.log.error({ err: errorMessage(err) }, 'hub presence not recorded');
    }
    return true;
  }

  private reject(why: string): true {
    this.counters.rejected++;
    this.opts.log.warn({ topic: this.topic, why }, 'presence message from the hub rejected');
    return true;
  }
}
