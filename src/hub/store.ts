import Database from 'better-sqlite3';
import type { JournalEntry, SignedHead } from '../core/entries.js';
import { entryColumnValues, EntryTimes, migrateEntryColumns } from './entry-columns.js';

export interface ChainState {
  gateId: string;
  epoch: number;
  nextSeq: number;
  lastHash: string;
}

/**
 * The hub's own database: every verified entry of every gate's chain, the signed heads, and
 * (through UploadQueue, same file) the rows waiting for the platform. An entry is stored here
 * before the gate is told it may forget it.
 */
export class HubStore {
  readonly db: Database.Database;
  private readonly stmt;
  private readonly times: EntryTimes;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS chains (
        gate_id TEXT PRIMARY KEY,
        epoch INTEGER NOT NULL,
        next_seq INTEGER NOT NULL,
        last_hash TEXT NOT NULL
      );`);
    migrateToEpochs(this.db);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS entries (
        gate_id TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        punch_id TEXT NOT NULL,
        body TEXT NOT NULL,
        hash TEXT NOT NULL,
        received_ms INTEGER NOT NULL,
        quarantined INTEGER NOT NULL DEFAULT 0,
        time_ms INTEGER,
        worker_id TEXT,
        decision TEXT,
        outcome TEXT,
        PRIMARY KEY (gate_id, epoch, seq)
      );
      CREATE INDEX IF NOT EXISTS entries_punch ON entries (punch_id, type);
      CREATE TABLE IF NOT EXISTS heads (
        gate_id TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL,
        sig_alg TEXT NOT NULL,
        sig TEXT NOT NULL,
        cert_sha256 TEXT NOT NULL,
        received_ms INTEGER NOT NULL,
        PRIMARY KEY (gate_id, epoch, seq)
      );
      CREATE TABLE IF NOT EXISTS hub_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `);
    migrateEntryColumns(this.db);
    this.times = new EntryTimes(this.db);
    this.stmt = {
      chain: this.db.prepare('SELECT gate_id, epoch, next_seq, last_hash FROM chains WHERE gate_id = ?'),
      putChain: this.db.prepare(
        'INSERT INTO chains (gate_id, epoch, next_seq, last_hash) VALUES (?, ?, ?, ?) ' +
          'ON CONFLICT (gate_id) DO UPDATE SET epoch = excluded.epoch, next_seq = excluded.next_seq, last_hash = excluded.last_hash',
      ),
      insertEntry: this.db.prepare(
        'INSERT INTO entries (gate_id, epoch, seq, type, punch_id, body, hash, received_ms, quarantined, time_ms, worker_id, decision, outcome) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insertHead: this.db.prepare(
        'INSERT OR IGNORE INTO heads (gate_id, epoch, seq, hash, sig_alg, sig, cert_sha256, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      hashAt: this.db.prepare('SELECT hash FROM entries WHERE gate_id = ? AND epoch = ? AND seq = ?'),
      punchOf: this.db.prepare("SELECT body FROM entries WHERE gate_id = ? AND punch_id = ? AND type = 'punch'"),
      count: this.db.prepare('SELECT COUNT(*) AS n FROM entries WHERE gate_id = ?'),
      countType: this.db.prepare('SELECT COUNT(*) AS n FROM entries WHERE type = ?'),
      meta: this.db.prepare('SELECT value FROM hub_meta WHERE key = ?'),
      setMeta: this.db.prepare('INSERT OR REPLACE INTO hub_meta (key, value) VALUES (?, ?)'),
    };
  }

  chainState(gateId: string): ChainState | null {
    const r = this.stmt.chain.get(gateId) as { gate_id: string; epoch: number; next_seq: number; last_hash: string } | undefined;
    return r ? { gateId: r.gate_id, epoch: r.epoch, nextSeq: r.next_seq, lastHash: r.last_hash } : null;
  }

  /** The stored hash of a gate's entry in one epoch's chain. */
  hashAt(gateId: string, epoch: number, seq: number): string | null {
    const r = this.stmt.hashAt.get(gateId, epoch, seq) as { hash: string } | undefined;
    return r ? r.hash : null;
  }

  punchEntry(gateId: string, punchId: string): JournalEntry | null {
    const r = this.stmt.punchOf.get(gateId, punchId) as { body: string } | undefined;
    return r ? (JSON.parse(r.body) as JournalEntry) : null;
  }

  /** The real time of a gate's reading (entry-columns.ts): corrected for an unsynchronised boot, null until known. */
  realTimeMs(gateId: string, time: JournalEntry['time']): number | null {
    return this.times.realTimeMs(gateId, time);
  }

  /**
   * Appends verified entries and moves the chain state, in the caller's transaction. Each entry's
   * real time is stored beside it (see entry-columns.ts); entries of a boot whose clock offset
   * this batch gives first (stored earlier, or in this batch before it) are dated now.
   */
  appendVerified(
    gateId: string,
    epoch: number,
    entries: readonly JournalEntry[],
    hashes: readonly string[],
    head: SignedHead,
    receivedMs: number,
    quarantined: boolean,
  ): void {
    const learned = this.times.bootsLearned(gateId, entries);
    entries.forEach((e, i) => {
      const c = entryColumnValues(e, this.times.realTimeMs(gateId, e.time));
      this.stmt.insertEntry.run(
        gateId, epoch, e.seq, e.type, e.punchId, JSON.stringify(e), hashes[i], receivedMs, quarantined ? 1 : 0, c.timeMs, c.workerId, c.decision, c.outcome,
      );
    });
    for (const [bootId, offsetMs] of learned) this.times.dateBoot(gateId, bootId, offsetMs);
    this.stmt.insertHead.run(gateId, epoch, head.seq, head.hash, head.sigAlg, head.sig, head.certSha256, receivedMs);
    const last = entries[entries.length - 1];
    this.stmt.putChain.run(gateId, epoch, last.seq + 1, hashes[hashes.length - 1]);
  }

  entryCount(gateId: string): number {
    return (this.stmt.count.get(gateId) as { n: number }).n;
  }

  countOfType(type: 'punch' | 'passage'): number {
    return (this.stmt.countType.get(type) as { n: number }).n;
  }

  /** A small value the hub keeps across restarts (e.g. the roster version last published). */
  meta(key: string): string | null {
    return (this.stmt.meta.get(key) as { value: string } | undefined)?.value ?? null;
  }

  setMeta(key: string, value: string): void {
    this.stmt.setMeta.run(key, value);
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/**
 * Databases from before re-commissioning held one chain per gate, keyed (gate_id, seq): their
 * entries and heads are moved to tables keyed (gate_id, epoch, seq), with the epoch the gate's
 * chain state names (1 when none), so a re-commissioned gate's new chain can start at seq 0.
 */
function migrateToEpochs(db: Database.Database): void {
  const has = (table: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
  const hasEpoch = (table: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).some((c) => c.name === 'epoch');
  const old = ['entries', 'heads'].filter((t) => has(t) && !hasEpoch(t));
  if (!old.length) return;
  const epochOf = '(SELECT COALESCE((SELECT epoch FROM chains c WHERE c.gate_id = o.gate_id), 1))';
  db.transaction(() => {
    for (const t of old) db.exec(`ALTER TABLE ${t} RENAME TO ${t}_before_epochs`);
    db.exec(`
      DROP INDEX IF EXISTS entries_punch;
      CREATE TABLE IF NOT EXISTS entries (gate_id TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, punch_id TEXT NOT NULL,
        body TEXT NOT NULL, hash TEXT NOT NULL, received_ms INTEGER NOT NULL, quarantined INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (gate_id, epoch, seq));
      CREATE TABLE IF NOT EXISTS heads (gate_id TEXT NOT NULL, epoch INTEGER NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, sig_alg TEXT NOT NULL,
        sig TEXT NOT NULL, cert_sha256 TEXT NOT NULL, received_ms INTEGER NOT NULL, PRIMARY KEY (gate_id, epoch, seq));
    `);
    if (old.includes('entries')) {
      db.exec(`INSERT INTO entries SELECT gate_id, ${epochOf}, seq, type, punch_id, body, hash, received_ms, quarantined FROM entries_before_epochs o;
        DROP TABLE entries_before_epochs;`);
    }
    if (old.includes('heads')) {
      db.exec(`INSERT INTO heads SELECT gate_id, ${epochOf}, seq, hash, sig_alg, sig, cert_sha256, received_ms FROM heads_before_epochs o;
        DROP TABLE heads_before_epochs;`);
    }
  })();
}
