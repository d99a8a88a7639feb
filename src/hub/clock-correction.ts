import type Database from 'better-sqlite3';
import type { JournalEntry, PunchTime } from '../core/entries.js';

/**
 * A gate may boot without a real-time clock: its punches then carry `clockSynced: false`, the
 * boot id and a monotonic reading. The first synchronised entry of the same boot gives the
 * offset between that boot's monotonic clock and real time, and every unsynchronised punch of
 * the boot is corrected from it. Until then, what depends on the real time (a platform row)
 * waits here, in the hub's database, so a restart loses nothing.
 */
export class BootClockCorrection<T extends { timeMs: number }> {
  private readonly stmt;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS boot_offsets (
        gate_id TEXT NOT NULL,
        boot_id TEXT NOT NULL,
        offset_ms INTEGER NOT NULL,
        PRIMARY KEY (gate_id, boot_id)
      );
      CREATE TABLE IF NOT EXISTS clock_held (
        gate_id TEXT NOT NULL,
        boot_id TEXT NOT NULL,
        mono_ms INTEGER NOT NULL,
        item TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS clock_held_boot ON clock_held (gate_id, boot_id);
    `);
    this.stmt = {
      offset: db.prepare('SELECT offset_ms FROM boot_offsets WHERE gate_id = ? AND boot_id = ?'),
      putOffset: db.prepare('INSERT OR IGNORE INTO boot_offsets (gate_id, boot_id, offset_ms) VALUES (?, ?, ?)'),
      hold: db.prepare('INSERT INTO clock_held (gate_id, boot_id, mono_ms, item) VALUES (?, ?, ?, ?)'),
      held: db.prepare('SELECT rowid, mono_ms, item FROM clock_held WHERE gate_id = ? AND boot_id = ? ORDER BY mono_ms, rowid'),
      dropHeld: db.prepare('DELETE FROM clock_held WHERE gate_id = ? AND boot_id = ?'),
      heldCount: db.prepare('SELECT COUNT(*) AS n FROM clock_held'),
    };
  }

  /** The real time of a gate's reading: as given when synchronised, corrected when the boot's offset is known, else null. */
  realTimeMs(gateId: string, time: PunchTime): number | null {
    if (time.clockSynced) return time.ms;
    const r = this.stmt.offset.get(gateId, time.bootId) as { offset_ms: number } | undefined;
    return r ? time.monoMs + r.offset_ms : null;
  }

  /**
   * Learns offsets from the synchronised entries of a batch (call inside the storing
   * transaction) and returns the held items of the boots that just became known, corrected.
   */
  observe(gateId: string, entries: readonly JournalEntry[]): T[] {
    const released: T[] = [];
    for (const e of entries) {
      if (!e.time.clockSynced) continue;
      if (this.stmt.offset.get(gateId, e.time.bootId)) continue;
      const offset = e.time.ms - e.time.monoMs;
      this.stmt.putOffset.run(gateId, e.time.bootId, offset);
      for (const h of this.stmt.held.all(gateId, e.time.bootId) as { mono_ms: number; item: string }[]) {
        released.push({ ...(JSON.parse(h.item) as T), timeMs: h.mono_ms + offset });
      }
      this.stmt.dropHeld.run(gateId, e.time.bootId);
    }
    return released;
  }

  /** Keeps an item whose time is not known yet; `observe` hands it back corrected. */
  hold(gateId: string, time: PunchTime, item: T): void {
    this.stmt.hold.run(gateId, time.bootId, time.monoMs, JSON.stringify(item));
  }

  heldCount(): number {
    return (this.stmt.heldCount.get() as { n: number }).n;
  }
}
