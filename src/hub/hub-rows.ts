import type Database from 'better-sqlite3';
import type { Clock } from '../core/clock.js';
import type { JournalEntry, PunchEntry } from '../core/entries.js';
import type { Logger } from '../core/log.js';
import type { RegistryWorker } from '../core/worker.js';
import { BootClockCorrection } from './clock-correction.js';
import { platformRowFor, type RowPolicy } from './platform-rows.js';
import type { PlatformRow } from './upload-queue.js';

/** A platform row on its way to the upload queue, with the photo it may still wait for. */
export type PendingRow = PlatformRow & { photoHash?: string };

export interface HubRowsOptions {
  /** the hub's database (the same one the upload queue and the store use) */
  db: Database.Database;
  findPunch: (gateId: string, punchId: string) => PunchEntry | null;
  findWorker: (workerId: string) => RegistryWorker | undefined;
  policy: () => RowPolicy;
  enqueue: (row: PlatformRow) => unknown;
  /** whether the hub holds the photo */
  hasPhoto: (hash: string) => boolean;
  /** the photo as the platform's `image`, or null when the hub has none that fits */
  photoImage: (hash: string) => string | null;
  /** how long a face punch's row waits for its photo */
  photoWaitMs: () => number;
  clock: Clock;
  log: Logger;
}

/**
 * Turns stored entries into platform rows. A row of a punch taken before its gate's clock was
 * synchronised waits (in the database) until a later synchronised entry of the same boot gives
 * its real time; a face punch's row waits a while for its photo, which travels apart. Everything
 * else goes to the upload queue at once.
 */
export class HubRows {
  readonly counters = { rows: 0, unknownWorker: 0, clockHeld: 0, clockCorrected: 0, photoHeld: 0, withPhoto: 0, withoutPhoto: 0 };
  private readonly correction: BootClockCorrection<PendingRow>;
  private readonly stmt;

  constructor(private readonly opts: HubRowsOptions) {
    this.correction = new BootClockCorrection<PendingRow>(opts.db);
    opts.db.exec(`
      CREATE TABLE IF NOT EXISTS photo_held (
        photo_hash TEXT NOT NULL,
        since_ms INTEGER NOT NULL,
        item TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS photo_held_hash ON photo_held (photo_hash);
      CREATE INDEX IF NOT EXISTS photo_held_since ON photo_held (since_ms);
    `);
    this.stmt = {
      hold: opts.db.prepare('INSERT INTO photo_held (photo_hash, since_ms, item) VALUES (?, ?, ?)'),
      waiting: opts.db.prepare('SELECT rowid, item FROM photo_held WHERE photo_hash = ? ORDER BY rowid'),
      overdue: opts.db.prepare('SELECT rowid, item FROM photo_held WHERE since_ms <= ? ORDER BY since_ms, rowid LIMIT 500'),
      drop: opts.db.prepare('DELETE FROM photo_held WHERE rowid = ?'),
      count: opts.db.prepare('SELECT COUNT(*) AS n FROM photo_held'),
    };
  }

  /** Call inside the transaction that stored `entries` (Ingest's onStored). */
  onStored(gateId: string, entries: readonly JournalEntry[], quarantined: boolean): void {
    // a synchronised entry of this batch may date unsynchronised ones of the same boot, this batch's too
    for (const row of this.correction.observe(gateId, entries)) {
      this.counters.clockCorrected++;
      this.photoStage(row);
    }
    if (quarantined) return; // kept for the operator; rows are made once the certificate question is settled
    const { opts } = this;
    for (const e of entries) {
      if (e.type !== 'passage') continue;
      const d = platformRowFor(e, (punchId) => opts.findPunch(gateId, punchId), opts.findWorker, opts.policy());
      if (d.kind === 'unknown_worker') {
        this.counters.unknownWorker++;
        opts.log.warn({ gateId, punchId: d.punchId }, 'granted punch of a worker the registry does not know');
        continue;
      }
      if (d.kind !== 'row') continue;
      const row: PendingRow = d.punch.credential.kind === 'face' && d.punch.photoHash ? { ...d.row, photoHash: d.punch.photoHash } : d.row;
      const realMs = this.correction.realTimeMs(gateId, d.punch.time);
      if (realMs === null) {
        this.correction.hold(gateId, d.punch.time, row);
        this.counters.clockHeld++;
        continue;
      }
      if (!d.punch.time.clockSynced) this.counters.clockCorrected++;
      this.photoStage({ ...row, timeMs: realMs });
    }
  }

  /** A photo was stored: the rows waiting for it go now, with it. */
  onPhoto(hash: string): number {
    const image = this.opts.photoImage(hash);
    return this.opts.db.transaction(() => {
      const waiting = this.stmt.waiting.all(hash) as { rowid: number; item: string }[];
      for (const w of waiting) {
        this.stmt.drop.run(w.rowid);
        this.send(JSON.parse(w.item) as PendingRow, image);
      }
      return waiting.length;
    })();
  }

  /** Rows whose photo did not come within photoWaitMs go without it. */
  sweep(): number {
    const cutoff = this.opts.clock.now() - this.opts.photoWaitMs();
    return this.opts.db.transaction(() => {
      const overdue = this.stmt.overdue.all(cutoff) as { rowid: number; item: string }[];
      for (const w of overdue) {
        this.stmt.drop.run(w.rowid);
        this.send(JSON.parse(w.item) as PendingRow, null);
      }
      return overdue.length;
    })();
  }

  /** Rows waiting: for their gate's clock, and for their photo. */
  held(): { clock: number; photo: number } {
    return { clock: this.correction.heldCount(), photo: (this.stmt.count.get() as { n: number }).n };
  }

  private photoStage(row: PendingRow): void {
    if (!row.photoHash) return this.send(row, null);
    if (this.opts.hasPhoto(row.photoHash) || this.opts.photoWaitMs() === 0) return this.send(row, this.opts.photoImage(row.photoHash));
    this.stmt.hold.run(row.photoHash, this.opts.clock.now(), JSON.stringify(row));
    this.counters.photoHeld++;
  }

  private send(pending: PendingRow, image: string | null): void {
    const { photoHash, ...row } = pending;
    if (photoHash) this.counters[image !== null ? 'withPhoto' : 'withoutPhoto']++;
    this.opts.enqueue(image !== null ? { ...row, image } : row);
    this.counters.rows++;
  }
}
