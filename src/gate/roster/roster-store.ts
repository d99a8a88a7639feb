import Database from 'better-sqlite3';
import type { CredentialKind } from '../../core/entries.js';
import { SitegateError } from '../../core/errors.js';
import type { RosterWorkerLike } from '../../core/roster-message.js';
import { siteRulesSchema, type SiteRules } from '../../core/site-rules.js';
import type { RosterDocument } from './roster-file.js';

export interface RosterStoreOptions {
  /**
   * Called inside an apply's transaction every `progressEvery` rows and once before a staged
   * snapshot is switched in (progress logs; the crash tests stop the process here).
   */
  onProgress?: (phase: 'replace' | 'delta' | 'stage' | 'commit', rows: number) => void;
  progressEvery?: number;
}

/** What a delta changes, already verified by the caller. */
export interface RosterChange {
  siteId: string;
  fromVersion: number;
  version: number;
  upserts: readonly RosterWorkerLike[];
  removes: readonly string[];
  rules?: SiteRules;
  siteKey?: string;
}

/** The header of a snapshot being staged. */
export interface RosterHeader {
  version: number;
  siteId: string;
  siteKey: string;
  rules: SiteRules | null;
}

/**
 * The roster file the store last read (size, mtime and SHA-256 of its bytes, and the version it
 * held): an unchanged file is not parsed again at the next start.
 */
export interface RosterFileStamp {
  size: number;
  mtimeMs: number;
  sha256: string;
  version: number;
}

/** A snapshot being written beside the live roster; commit() switches it in with one transaction. */
export interface SnapshotStaging {
  add(workers: readonly RosterWorkerLike[]): void;
  commit(header: RosterHeader): void;
  abandon(): void;
}

const SCHEMA = (workers: string, credentials: string) => `
  CREATE TABLE IF NOT EXISTS ${workers} (worker_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS ${credentials} (
    kind TEXT NOT NULL,
    hmac TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    PRIMARY KEY (kind, hmac)
  ) WITHOUT ROWID;
`;

const DROP_STAGING = 'DROP TABLE IF EXISTS stage_workers; DROP TABLE IF EXISTS stage_credentials; DROP TABLE IF EXISTS stage_credentials_raw;';

/**
 * The gate's local copy of the roster, in SQLite so a gate decides without the network. Each
 * worker is kept whole as JSON (fields the registry adds travel without a schema change here),
 * with a credential index for lookups. A new version is applied in one transaction: a crash
 * mid-way leaves the previous version whole.
 */
export class RosterStore {
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly progressEvery: number;
  private cachedSize: number | null = null;

  constructor(path: string, private readonly opts: RosterStoreOptions = {}) {
    this.progressEvery = opts.progressEvery ?? 1000;
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS roster_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    this.dropOlderLayout();
    // a snapshot staged by a process that died before switching it in
    this.db.exec(DROP_STAGING);
    this.db.exec(SCHEMA('workers', 'credentials'));
    this.stmt = {
      byCredential: this.db.prepare('SELECT w.doc FROM credentials c JOIN workers w USING (worker_id) WHERE c.kind = ? AND c.hmac = ?').pluck(),
      doc: this.db.prepare('SELECT doc FROM workers WHERE worker_id = ?').pluck(),
      allDocs: this.db.prepare('SELECT doc FROM workers ORDER BY worker_id').pluck(),
      putWorker: this.db.prepare('INSERT OR REPLACE INTO workers (worker_id, doc) VALUES (?, ?)'),
      delWorker: this.db.prepare('DELETE FROM workers WHERE worker_id = ?'),
      putCred: this.db.prepare('INSERT OR REPLACE INTO credentials (kind, hmac, worker_id) VALUES (?, ?, ?)'),
      delCred: this.db.prepare('DELETE FROM credentials WHERE kind = ? AND hmac = ? AND worker_id = ?'),
      meta: this.db.prepare('SELECT value FROM roster_meta WHERE key = ?').pluck(),
      setMeta: this.db.prepare('INSERT OR REPLACE INTO roster_meta (key, value) VALUES (?, ?)'),
      count: this.db.prepare('SELECT COUNT(*) FROM workers').pluck(),
    };
  }

  /**
   * Replaces the whole roster in one transaction (a roster file at start), remembering the
   * file's stamp in the same transaction when given.
   */
  replace(doc: RosterDocument, fileStamp?: RosterFileStamp): void {
    const rules = doc.rules ? siteRulesSchema.parse(doc.rules) : null;
    this.db.transaction(() => {
      this.db.exec('DELETE FROM credentials; DELETE FROM workers;');
      let n = 0;
      for (const w of doc.workers) {
        this.insertWorker(w as RosterWorkerLike);
        if (++n % this.progressEvery === 0) this.opts.onProgress?.('replace', n);
      }
      this.writeHeader({ version: doc.version, siteId: doc.siteId, siteKey: doc.siteKey, rules });
      if (fileStamp) this.setRosterFileStamp(fileStamp);
    })();
    this.cachedSize = null;
  }

  /**
   * Applies one delta in one transaction. It must start at or before this version and end after
   * it (upserts carry each worker's state at `version`, so an overlap is safe).
   */
  applyDelta(change: RosterChange): void {
    this.db.transaction(() => {
      const have = this.version();
      const siteId = this.siteId();
      if (have === null || siteId === null) throw new SitegateError('ROSTER_NO_BASE', 'a roster delta needs a roster to apply to; none is loaded');
      if (siteId !== change.siteId) throw new SitegateError('ROSTER_WRONG_SITE', `roster delta for site ${change.siteId}, this roster is site ${siteId}`);
      if (change.fromVersion > have) {
        throw new SitegateError('ROSTER_GAP', `roster delta ${change.fromVersion}→${change.version} does not start at or before version ${have}`, { have });
      }
      if (change.version <= have) throw new SitegateError('ROSTER_STALE', `roster delta to ${change.version} is not newer than version ${have}`, { have });
      let n = 0;
      const step = (): void => {
        if (++n % this.progressEvery === 0) this.opts.onProgress?.('delta', n);
      };
      for (const id of change.removes) {
        this.dropWorker(id);
        step();
      }
      for (const w of change.upserts) {
        this.dropWorker(w.workerId);
        this.insertWorker(w);
        step();
      }
      this.stmt.setMeta.run('version', String(change.version));
      if (change.rules !== undefined) this.stmt.setMeta.run('rules', JSON.stringify(change.rules));
      if (change.siteKey !== undefined) this.stmt.setMeta.run('siteKey', change.siteKey);
    })();
    this.cachedSize = null;
  }

  /**
   * Starts writing a snapshot beside the live roster, in short transactions the caller spaces
   * out (the gate keeps deciding meanwhile); commit() switches it in with one transaction.
   */
  beginSnapshot(): SnapshotStaging {
    this.db.exec(`${DROP_STAGING} ${SCHEMA('stage_workers', 'stage_credentials')}
      CREATE TABLE stage_credentials_raw (kind TEXT NOT NULL, hmac TEXT NOT NULL, worker_id TEXT NOT NULL);`);
    const putWorker = this.db.prepare('INSERT OR REPLACE INTO stage_workers (worker_id, doc) VALUES (?, ?)');
    // credentials go in unindexed and are sorted into their index once, at commit: random HMAC
    // keys inserted batch by batch cost twice the time
    const putCred = this.db.prepare('INSERT INTO stage_credentials_raw (kind, hmac, worker_id) VALUES (?, ?, ?)');
    let staged = 0;
    let open = true;
    const check = (): void => {
      if (!open) throw new SitegateError('ROSTER_STAGING_CLOSED', 'this snapshot staging was already committed or abandoned');
    };
    const add = this.db.transaction((workers: readonly RosterWorkerLike[]) => {
      for (const w of workers) {
        putWorker.run(w.workerId, JSON.stringify(w));
        for (const c of w.credentials) putCred.run(c.kind, c.hmac, w.workerId);
        if (++staged % this.progressEvery === 0) this.opts.onProgress?.('stage', staged);
      }
    });
    const commit = this.db.transaction((header: RosterHeader) => {
      // a card listed twice: the later one wins, as with a delta
      this.db.exec(`INSERT OR REPLACE INTO stage_credentials (kind, hmac, worker_id)
          SELECT kind, hmac, worker_id FROM stage_credentials_raw ORDER BY kind, hmac, rowid;
        DROP TABLE stage_credentials_raw;
        DROP TABLE credentials; DROP TABLE workers;`);
      this.opts.onProgress?.('commit', staged);
      this.db.exec('ALTER TABLE stage_workers RENAME TO workers; ALTER TABLE stage_credentials RENAME TO credentials;');
      this.writeHeader(header);
    });
    return {
      add: (workers) => {
        check();
        add(workers);
      },
      commit: (header) => {
        check();
        commit(header);
        open = false;
        this.cachedSize = null;
      },
      abandon: () => {
        if (!open) return;
        open = false;
        if (this.db.open) this.db.exec(DROP_STAGING);
      },
    };
  }

  findByCredential(kind: CredentialKind, hmac: string): RosterWorkerLike | null {
    const doc = this.stmt.byCredential.get(kind, hmac) as string | undefined;
    return doc === undefined ? null : (JSON.parse(doc) as RosterWorkerLike);
  }

  findWorker(workerId: string): RosterWorkerLike | null {
    const doc = this.stmt.doc.get(workerId) as string | undefined;
    return doc === undefined ? null : (JSON.parse(doc) as RosterWorkerLike);
  }

  /** Every worker's face templates (for the 1:N index), in workerId order. */
  *faceTemplates(): Generator<{ workerId: string; templates: string[] }> {
    for (const doc of this.stmt.allDocs.iterate() as Iterable<string>) {
      const w = JSON.parse(doc) as RosterWorkerLike;
      if (w.faceTemplates?.length) yield { workerId: w.workerId, templates: w.faceTemplates };
    }
  }

  /** How many credentials of each kind the roster holds, kinds in name order. */
  credentialCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.db.prepare('SELECT kind, COUNT(*) AS n FROM credentials GROUP BY kind ORDER BY kind').all() as { kind: string; n: number }[]) out[r.kind] = r.n;
    return out;
  }

  /**
   * Workers whose name contains `query` (the technician's `sitegate roster find`), in workerId
   * order, at most `limit`. An empty query matches nobody.
   */
  searchByName(query: string, limit: number): RosterWorkerLike[] {
    if (!query || limit <= 0) return [];
    const docs = this.db
      .prepare("SELECT doc FROM workers WHERE instr(json_extract(doc, '$.name'), ?) > 0 ORDER BY worker_id LIMIT ?")
      .pluck()
      .all(query, Math.floor(limit)) as string[];
    return docs.map((d) => JSON.parse(d) as RosterWorkerLike);
  }

  version(): number | null {
    const v = this.stmt.meta.get('version') as string | undefined;
    return v === undefined ? null : Number(v);
  }

  siteId(): string | null {
    return (this.stmt.meta.get('siteId') as string | undefined) ?? null;
  }

  siteKey(): Buffer | null {
    const v = this.stmt.meta.get('siteKey') as string | undefined;
    return v === undefined ? null : Buffer.from(v, 'hex');
  }

  /** The site's rules as the roster carries them; null: none configured (defaults apply). */
  rules(): SiteRules | null {
    const v = this.stmt.meta.get('rules') as string | undefined;
    return v === undefined || v === 'null' ? null : (JSON.parse(v) as SiteRules);
  }

  /** The roster file last read into this store (applied or found not newer); null: none. */
  rosterFileStamp(): RosterFileStamp | null {
    const v = this.stmt.meta.get('rosterFile') as string | undefined;
    if (v === undefined) return null;
    try {
      const s = JSON.parse(v) as Partial<RosterFileStamp>;
      const ok = typeof s.size === 'number' && typeof s.mtimeMs === 'number' && typeof s.sha256 === 'string' && typeof s.version === 'number';
      return ok ? (s as RosterFileStamp) : null;
    } catch {
      return null; // unreadable: the file is simply parsed again
    }
  }

  setRosterFileStamp(stamp: RosterFileStamp): void {
    this.stmt.setMeta.run('rosterFile', JSON.stringify({ size: stamp.size, mtimeMs: stamp.mtimeMs, sha256: stamp.sha256, version: stamp.version }));
  }

  size(): number {
    this.cachedSize ??= this.stmt.count.get() as number;
    return this.cachedSize;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private insertWorker(w: RosterWorkerLike): void {
    this.stmt.putWorker.run(w.workerId, JSON.stringify(w));
    for (const c of w.credentials) this.stmt.putCred.run(c.kind, c.hmac, w.workerId);
  }

  private dropWorker(workerId: string): void {
    const doc = this.stmt.doc.get(workerId) as string | undefined;
    if (doc === undefined) return;
    for (const c of (JSON.parse(doc) as RosterWorkerLike).credentials) this.stmt.delCred.run(c.kind, c.hmac, workerId);
    this.stmt.delWorker.run(workerId);
  }

  private writeHeader(h: RosterHeader): void {
    this.stmt.setMeta.run('version', String(h.version));
    this.stmt.setMeta.run('siteId', h.siteId);
    this.stmt.setMeta.run('siteKey', h.siteKey);
    this.stmt.setMeta.run('rules', JSON.stringify(h.rules));
  }

  /** The first roster layout kept name/status columns; its content is a cache and is dropped. */
  private dropOlderLayout(): void {
    const cols = this.db.prepare("SELECT name FROM pragma_table_info('workers')").pluck().all() as string[];
    if (cols.length > 0 && !cols.includes('doc')) {
      this.db.exec("DROP TABLE IF EXISTS credentials; DROP TABLE workers; DELETE FROM roster_meta WHERE key = 'version';");
    }
  }
}
