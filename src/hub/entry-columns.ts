import type Database from 'better-sqlite3';
import type { JournalEntry, PunchTime } from '../core/entries.js';
import { BootClockCorrection } from './clock-correction.js';

/**
 * Columns of `entries` taken from each entry's JSON body when it is stored, so that queries over
 * months of punches (the daily report) filter on an index instead of parsing every body.
 *
 * `time_ms` is the entry's real time, the one the platform rows carry: the gate's reading when its
 * clock was synchronised, else the boot's monotonic reading plus the boot's offset (see
 * BootClockCorrection), and NULL until that offset is known. The offset of a boot is the one
 * BootClockCorrection.observe() records: from the first synchronised entry of that boot.
 */
const ENTRY_COLUMNS = ['time_ms INTEGER', 'worker_id TEXT', 'decision TEXT', 'outcome TEXT'] as const;

/** entries_time serves the report's range of real times; entries_undated finds what a boot's offset dates (EntryTimes.dateBoot). */
const INDEXES = `
  CREATE INDEX IF NOT EXISTS entries_time ON entries (type, time_ms);
  CREATE INDEX IF NOT EXISTS entries_undated ON entries (gate_id) WHERE time_ms IS NULL;
`;

/**
 * Adds the columns to a database from before them, fills them from the bodies (and the boot
 * offsets already known) in one transaction, and creates the indexes. Does nothing the second time.
 */
export function migrateEntryColumns(db: Database.Database): void {
  new BootClockCorrection(db); // its boot_offsets table, read by the backfill
  const have = new Set((db.prepare('PRAGMA table_info(entries)').all() as { name: string }[]).map((c) => c.name));
  const missing = ENTRY_COLUMNS.filter((c) => !have.has(c.split(' ')[0]));
  db.transaction(() => {
    if (missing.length) {
      for (const c of missing) db.exec(`ALTER TABLE entries ADD COLUMN ${c}`);
      db.exec(`
        UPDATE entries SET
          worker_id = json_extract(body, '$.workerId'),
          decision = json_extract(body, '$.decision'),
          outcome = json_extract(body, '$.outcome'),
          time_ms = CASE WHEN json_extract(body, '$.time.clockSynced') THEN json_extract(body, '$.time.ms')
            ELSE json_extract(body, '$.time.monoMs') +
              (SELECT offset_ms FROM boot_offsets b WHERE b.gate_id = entries.gate_id AND b.boot_id = json_extract(entries.body, '$.time.bootId'))
            END;
      `);
    }
    db.exec(INDEXES);
  })();
}

/** The derived columns of one entry, given its real time. */
export function entryColumnValues(e: JournalEntry, timeMs: number | null): { timeMs: number | null; workerId: string | null; decision: string | null; outcome: string | null } {
  return e.type === 'punch'
    ? { timeMs, workerId: e.workerId, decision: e.decision, outcome: null }
    : { timeMs, workerId: null, decision: null, outcome: e.outcome };
}

/** Real times of entries as they are stored, and the dating of earlier ones once their boot's offset is learned. */
export class EntryTimes {
  private readonly correction: BootClockCorrection<{ timeMs: number }>;
  private readonly dateUndated;

  constructor(db: Database.Database) {
    this.correction = new BootClockCorrection(db);
    this.dateUndated = db.prepare(
      `UPDATE entries SET time_ms = json_extract(body, '$.time.monoMs') + ?
       WHERE gate_id = ? AND time_ms IS NULL AND json_extract(body, '$.time.bootId') = ?`,
    );
  }

  /** The real time of a reading, or null while its boot's offset is unknown. */
  realTimeMs(gateId: string, time: PunchTime): number | null {
    return this.correction.realTimeMs(gateId, time);
  }

  /**
   * The boots whose clock offset a batch about to be stored gives first, with that offset: the
   * same rule as BootClockCorrection.observe(), which runs after the insert in the same transaction.
   */
  bootsLearned(gateId: string, entries: readonly JournalEntry[]): Map<string, number> {
    const learned = new Map<string, number>();
    for (const e of entries) {
      const t = e.time;
      if (!t.clockSynced || learned.has(t.bootId)) continue;
      if (this.correction.realTimeMs(gateId, { ...t, clockSynced: false }) === null) learned.set(t.bootId, t.ms - t.monoMs);
    }
    return learned;
  }

  /** Dates the stored entries of a gate's boot that waited for its offset (this batch's too). */
  dateBoot(gateId: string, bootId: string, offsetMs: number): number {
    return this.dateUndated.run(offsetMs, gateId, bootId).changes;
  }
}
