import Database from 'better-sqlite3';
import { canonicalBytes } from '../../core/canonical.js';
import { entryHash, genesisHash } from '../../core/chain.js';
import type { JournalEntry, PassageBody, PassageEntry, PunchBody, PunchEntry, SignedHead } from '../../core/entries.js';
import { SitegateError } from '../../core/errors.js';

export interface JournalIdentity {
  gateId: string;
  certSha256: string;
  epoch: number;
}

export interface JournalLimits {
  /** Unacknowledged entries the journal promises to hold; beyond it `overCapacity` is true (nothing is dropped). */
  capacity: number;
  /** SQLite's max_page_count, to bound the file (and, in tests, to make the disk "full"). */
  maxPageCount?: number;
}

export interface PruneOptions {
  /** acknowledged entries older than this (by the gate's wall clock at commit) are removed */
  maxAgeMs: number;
  /** at most this many acknowledged entries are kept, the newest */
  maxAckedRows: number;
}

export interface StoredEntry {
  entry: JournalEntry;
  hash: string;
}

/**
 * The gate's journal: one hash chain of immutable punch and passage entries in SQLite (WAL,
 * synchronous=FULL: a committed punch survives a power cut). An entry is committed before the
 * relay opens and stays unacknowledged until the hub names it in an application ack.
 */
export class Journal {
  readonly db: Database.Database;
  readonly identity: JournalIdentity;
  private readonly genesis: string;
  private headSeq: number;
  private headHash: string;
  private unacked: number;
  private readonly stmt;
  private readonly appendTx: (entry: JournalEntry, body: string, hash: string, decision: string | null) => void;

  constructor(
    path: string,
    identity: JournalIdentity,
    private readonly wallClock: () => number = Date.now,
    readonly limits: JournalLimits = { capacity: 500_000 },
  ) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    if (limits.maxPageCount) this.db.pragma(`max_page_count = ${Math.floor(limits.maxPageCount)}`);
    this.migrate();
    this.identity = this.bindIdentity(identity);
    this.genesis = genesisHash(this.identity.gateId, this.identity.certSha256, this.identity.epoch);
    this.stmt = {
      insert: this.db.prepare(
        'INSERT INTO entries (seq, type, punch_id, body, hash, decision, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      insertHead: this.db.prepare(
        'INSERT OR REPLACE INTO heads (seq, hash, sig_alg, sig, cert_sha256) VALUES (?, ?, ?, ?, ?)',
      ),
      entriesAfter: this.db.prepare('SELECT body, hash FROM entries WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?'),
      firstUnacked: this.db.prepare('SELECT seq FROM entries WHERE acked = 0 ORDER BY seq LIMIT 1'),
      lastSigned: this.db.prepare('SELECT seq, hash, sig_alg, sig, cert_sha256 FROM heads ORDER BY seq DESC LIMIT 1'),
      headsAfter: this.db.prepare('SELECT seq, hash, sig_alg, sig, cert_sha256 FROM heads WHERE seq > ? ORDER BY seq LIMIT ?'),
      ack: this.db.prepare('UPDATE entries SET acked = 1 WHERE punch_id = ? AND seq <= ? AND acked = 0'),
      unackedCount: this.db.prepare('SELECT COUNT(*) AS n FROM entries WHERE acked = 0'),
      oldestUnacked: this.db.prepare('SELECT created_ms FROM entries WHERE acked = 0 ORDER BY seq LIMIT 1'),
      dangling: this.db.prepare(
        'SELECT e.body FROM open_passages o JOIN entries e ON e.seq = o.seq ORDER BY o.seq',
      ),
      openPassage: this.db.prepare('INSERT INTO open_passages (punch_id, seq) VALUES (?, ?)'),
      closePassage: this.db.prepare('DELETE FROM open_passages WHERE punch_id = ?'),
      byPunch: this.db.prepare('SELECT body FROM entries WHERE punch_id = ? ORDER BY seq'),
      hashAt: this.db.prepare('SELECT hash FROM entries WHERE seq = ?'),
      last: this.db.prepare('SELECT body, hash, acked, created_ms FROM entries ORDER BY seq DESC LIMIT ?'),
      pruneOld: this.db.prepare('DELETE FROM entries WHERE acked = 1 AND created_ms < ? AND seq < ?'),
      pruneBeyond: this.db.prepare(
        'DELETE FROM entries WHERE acked = 1 AND seq < ? AND seq NOT IN (SELECT seq FROM entries WHERE acked = 1 ORDER BY seq DESC LIMIT ?)',
      ),
      pruneHeads: this.db.prepare('DELETE FROM heads WHERE seq < ? AND seq < (SELECT MAX(seq) FROM heads)'),
      minSeq: this.db.prepare('SELECT MIN(seq) AS s FROM entries WHERE acked = 0'),
      lastPunches: this.db.prepare(
        `SELECT p.body, p.acked, (SELECT q.body FROM entries q WHERE q.punch_id = p.punch_id AND q.type = 'passage' LIMIT 1) AS passage
           FROM entries p WHERE p.type = 'punch' ORDER BY p.seq DESC LIMIT ?`,
      ),
      pendingPunches: this.db.prepare(
        `SELECT p.body, p.acked, (SELECT q.body FROM entries q WHERE q.punch_id = p.punch_id AND q.type = 'passage' LIMIT 1) AS passage
           FROM entries p WHERE p.acked = 0 AND p.type = 'punch' ORDER BY p.seq LIMIT ?`,
      ),
    };
    this.appendTx = this.db.transaction((entry: JournalEntry, body: string, hash: string, decision: string | null) => {
      this.stmt.insert.run(entry.seq, entry.type, entry.punchId, body, hash, decision, this.wallClock());
      if (entry.type === 'punch' && decision === 'granted') this.stmt.openPassage.run(entry.punchId, entry.seq);
      else if (entry.type === 'passage') this.stmt.closePassage.run(entry.punchId);
    });
    const last = this.db.prepare('SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1').get() as
      | { seq: number; hash: string }
      | undefined;
    this.headSeq = last ? last.seq : -1;
    this.headHash = last ? last.hash : this.genesis;
    this.unacked = (this.stmt.unackedCount.get() as { n: number }).n;
  }

  private migrate(): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS entries (
        seq INTEGER PRIMARY KEY,
        type TEXT NOT NULL CHECK (type IN ('punch', 'passage')),
        punch_id TEXT NOT NULL,
        body TEXT NOT NULL,
        hash TEXT NOT NULL,
        decision TEXT,
        created_ms INTEGER NOT NULL,
        acked INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS entries_unacked ON entries (seq) WHERE acked = 0;
      CREATE INDEX IF NOT EXISTS entries_punch ON entries (punch_id);
      CREATE TABLE IF NOT EXISTS heads (
        seq INTEGER PRIMARY KEY,
        hash TEXT NOT NULL,
        sig_alg TEXT NOT NULL,
        sig TEXT NOT NULL,
        cert_sha256 TEXT NOT NULL
      );
    `);
    // Granted punches still waiting for their passage entry, kept apart so that start-up finds
    // them without scanning a backlog of 500,000 rows.
    const fresh = !this.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'open_passages'").get();
    this.db.exec('CREATE TABLE IF NOT EXISTS open_passages (punch_id TEXT PRIMARY KEY, seq INTEGER NOT NULL)');
    if (fresh) {
      this.db.exec(`INSERT INTO open_passages (punch_id, seq)
        SELECT p.punch_id, p.seq FROM entries p WHERE p.type = 'punch' AND p.decision = 'granted'
          AND NOT EXISTS (SELECT 1 FROM entries q WHERE q.type = 'passage' AND q.punch_id = p.punch_id)`);
    }
  }

  /** The chain's genesis is fixed when the journal is created; a different identity later is a fault. */
  private bindIdentity(identity: JournalIdentity): JournalIdentity {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'identity'").get() as { value: string } | undefined;
    if (!row) {
      this.db.prepare("INSERT INTO meta (key, value) VALUES ('identity', ?)").run(JSON.stringify(identity));
      return identity;
    }
    const stored = JSON.parse(row.value) as JournalIdentity;
    if (stored.gateId !== identity.gateId || stored.epoch !== identity.epoch || stored.certSha256 !== identity.certSha256) {
      throw new SitegateError(
        'journal_identity_changed',
        `journal was started for gate ${stored.gateId} epoch ${stored.epoch} with certificate ${stored.certSha256.slice(0, 16)}…; ` +
          `now gate ${identity.gateId} epoch ${identity.epoch} certificate ${identity.certSha256.slice(0, 16)}…: ` +
          're-commission the gate with a new epoch at the hub and move the old journal aside after it has drained',
      );
    }
    return stored;
  }

  get genesisHash(): string {
    return this.genesis;
  }

  get head(): { seq: number; hash: string } {
    return { seq: this.headSeq, hash: this.headHash };
  }

  appendPunch(body: PunchBody): PunchEntry {
    const entry: PunchEntry = { type: 'punch', seq: this.headSeq + 1, prevHash: this.headHash, ...body };
    this.append(entry, body.decision);
    return entry;
  }

  appendPassage(body: PassageBody): PassageEntry {
    const entry: PassageEntry = { type: 'passage', seq: this.headSeq + 1, prevHash: this.headHash, ...body };
    this.append(entry, null);
    return entry;
  }

  /**
   * One committed row per entry: with synchronous=FULL the commit is durable when this returns.
   * A full disk (or max_page_count) throws `journal_disk_full` and leaves the chain as it was.
   */
  private append(entry: JournalEntry, decision: string | null): void {
    const body = canonicalBytes(entry).toString('utf8');
    const hash = entryHash(entry);
    try {
      this.appendTx(entry, body, hash, decision);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'SQLITE_FULL') {
        throw new SitegateError('journal_disk_full', 'the journal cannot grow (disk or page limit full): the entry was not recorded');
      }
      throw err;
    }
    this.headSeq = entry.seq;
    this.headHash = hash;
    this.unacked++;
  }

  /** More unacknowledged entries than the journal promises to hold (they are all kept). */
  get overCapacity(): boolean {
    return this.unacked >= this.limits.capacity;
  }

  /** The newest entries, newest first, with whether the hub has them (for the CLI's history). */
  latest(n: number): { entry: JournalEntry; hash: string; acked: boolean; committedMs: number }[] {
    return (this.stmt.last.all(n) as { body: string; hash: string; acked: number; created_ms: number }[]).map((r) => ({
      entry: JSON.parse(r.body) as JournalEntry,
      hash: r.hash,
      acked: r.acked === 1,
      committedMs: r.created_ms,
    }));
  }

  /**
   * Removes acknowledged entries by age and count. Never an unacknowledged one, never the chain
   * head (the next entry chains to it) and never the newest signed head.
   */
  prune(opts: PruneOptions): { entries: number; heads: number } {
    let entries = 0;
    let heads = 0;
    this.db.transaction(() => {
      entries += this.stmt.pruneOld.run(this.wallClock() - opts.maxAgeMs, this.headSeq).changes;
      entries += this.stmt.pruneBeyond.run(this.headSeq, Math.max(0, opts.maxAckedRows)).changes;
      const firstUnacked = (this.stmt.minSeq.get() as { s: number | null }).s ?? this.headSeq;
      heads = this.stmt.pruneHeads.run(firstUnacked).changes;
    })();
    return { entries, heads };
  }

  /** The newest punches, newest first, each with its passage outcome (null: none yet or denied). */
  lastPunches(n: number): PunchWithPassage[] {
    return (this.stmt.lastPunches.all(n) as PunchRow[]).map(punchFromRow);
  }

  /** Punches the hub has not acknowledged, oldest first, each with its passage outcome. */
  pendingPunches(limit: number): PunchWithPassage[] {
    return (this.stmt.pendingPunches.all(limit) as PunchRow[]).map(punchFromRow);
  }

  /**
   * The identity a journal file was started with, without opening it for writing; null when the
   * file does not exist or holds none (a gate that starts without its token chains under it).
   */
  static storedIdentity(path: string): JournalIdentity | null {
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
    } catch {
      return null;
    }
    try {
      const row = db.prepare("SELECT value FROM meta WHERE key = 'identity'").get() as { value: string } | undefined;
      return row ? (JSON.parse(row.value) as JournalIdentity) : null;
    } catch {
      return null;
    } finally {
      db.close();
    }
  }

  /** Granted punches with no passage entry: cut by a crash or a stop. */
  danglingGrantedPunches(): PunchEntry[] {
    return (this.stmt.dangling.all() as { body: string }[]).map((r) => JSON.parse(r.body) as PunchEntry);
  }

  entriesOf(punchId: string): JournalEntry[] {
    return (this.stmt.byPunch.all(punchId) as { body: string }[]).map((r) => JSON.parse(r.body) as JournalEntry);
  }

  hashAt(seq: number): string | null {
    const r = this.stmt.hashAt.get(seq) as { hash: string } | undefined;
    return r ? r.hash : null;
  }

  recordHead(head: SignedHead): void {
    this.stmt.insertHead.run(head.seq, head.hash, head.sigAlg, head.sig, head.certSha256);
  }

  lastSignedHead(): SignedHead | null {
    const r = this.stmt.lastSigned.get() as HeadRow | undefined;
    return r ? headFromRow(r) : null;
  }

  /** Signed heads after `seq`, oldest first. */
  signedHeadsAfter(seq: number, limit: number): SignedHead[] {
    return (this.stmt.headsAfter.all(seq, limit) as HeadRow[]).map(headFromRow);
  }

  /** Entries with afterSeq < seq ≤ uptoSeq, in chain order. */
  entriesBetween(afterSeq: number, uptoSeq: number, limit: number): StoredEntry[] {
    return (this.stmt.entriesAfter.all(afterSeq, uptoSeq, limit) as { body: string; hash: string }[]).map((r) => ({
      entry: JSON.parse(r.body) as JournalEntry,
      hash: r.hash,
    }));
  }

  /** seq before the first unacknowledged entry (everything up to it is at the hub). */
  ackedThrough(): number {
    const r = this.stmt.firstUnacked.get() as { seq: number } | undefined;
    return r ? r.seq - 1 : this.headSeq;
  }

  /** Marks the entries of these punches acknowledged, never past the hub's contiguous seq. */
  ack(punchIds: readonly string[], uptoSeq: number): number {
    let n = 0;
    const tx = this.db.transaction(() => {
      for (const id of punchIds) n += this.stmt.ack.run(id, uptoSeq).changes;
    });
    tx();
    this.unacked -= n;
    return n;
  }

  /** Kept in memory (counted at open): COUNT(*) over 500,000 rows costs milliseconds per swipe. */
  unackedCount(): number {
    return this.unacked;
  }

  oldestUnackedMs(): number | null {
    const r = this.stmt.oldestUnacked.get() as { created_ms: number } | undefined;
    return r ? r.created_ms : null;
  }

  pragmas(): { journalMode: string; synchronous: number } {
    return {
      journalMode: String(this.db.pragma('journal_mode', { simple: true })),
      synchronous: Number(this.db.pragma('synchronous', { simple: true })),
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

export interface PunchWithPassage {
  punch: PunchEntry;
  /** the hub has acknowledged the punch entry */
  acked: boolean;
  passage: PassageEntry['outcome'] | null;
}

interface PunchRow {
  body: string;
  acked: number;
  passage: string | null;
}

function punchFromRow(r: PunchRow): PunchWithPassage {
  return {
    punch: JSON.parse(r.body) as PunchEntry,
    acked: r.acked === 1,
    passage: r.passage ? (JSON.parse(r.passage) as PassageEntry).outcome : null,
  };
}

interface HeadRow {
  seq: number;
  hash: string;
  sig_alg: string;
  sig: string;
  cert_sha256: string;
}

function headFromRow(r: HeadRow): SignedHead {
  return { seq: r.seq, hash: r.hash, sigAlg: r.sig_alg as SignedHead['sigAlg'], sig: r.sig, certSha256: r.cert_sha256 };
}
