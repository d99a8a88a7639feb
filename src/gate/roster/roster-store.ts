import Database from 'better-sqlite3';
import type { CredentialKind } from '../../core/entries.js';
import type { RosterWorker, SiteStatus } from '../../core/worker.js';
import type { RosterDocument } from './roster-file.js';

/**
 * The gate's local copy of the roster, in SQLite so a gate decides without the network. A new
 * version replaces the old one in a single transaction: a crash mid-way leaves the old one whole.
 */
export class RosterStore {
  private readonly db: Database.Database;
  private readonly stmt;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS roster_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS workers (
        worker_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        id_valid_to TEXT
      );
      CREATE TABLE IF NOT EXISTS credentials (
        kind TEXT NOT NULL,
        hmac TEXT NOT NULL,
        worker_id TEXT NOT NULL REFERENCES workers (worker_id) ON DELETE CASCADE,
        PRIMARY KEY (kind, hmac)
      );
    `);
    this.stmt = {
      byCredential: this.db.prepare(
        'SELECT w.worker_id, w.name, w.status, w.id_valid_to FROM credentials c JOIN workers w USING (worker_id) WHERE c.kind = ? AND c.hmac = ?',
      ),
      credsOf: this.db.prepare('SELECT kind, hmac FROM credentials WHERE worker_id = ?'),
      meta: this.db.prepare('SELECT value FROM roster_meta WHERE key = ?'),
      count: this.db.prepare('SELECT COUNT(*) AS n FROM workers'),
    };
  }

  /** Replaces the whole roster in one transaction. */
  replace(doc: RosterDocument): void {
    const insWorker = this.db.prepare('INSERT INTO workers (worker_id, name, status, id_valid_to) VALUES (?, ?, ?, ?)');
    const insCred = this.db.prepare('INSERT OR REPLACE INTO credentials (kind, hmac, worker_id) VALUES (?, ?, ?)');
    const setMeta = this.db.prepare('INSERT OR REPLACE INTO roster_meta (key, value) VALUES (?, ?)');
    this.db.transaction(() => {
      this.db.exec('DELETE FROM credentials; DELETE FROM workers;');
      for (const w of doc.workers) {
        insWorker.run(w.workerId, w.name, w.status, w.idValidTo);
        for (const c of w.credentials) insCred.run(c.kind, c.hmac, w.workerId);
      }
      setMeta.run('version', String(doc.version));
      setMeta.run('siteId', doc.siteId);
      setMeta.run('siteKey', doc.siteKey);
    })();
  }

  findByCredential(kind: CredentialKind, hmac: string): RosterWorker | null {
    const r = this.stmt.byCredential.get(kind, hmac) as
      | { worker_id: string; name: string; status: SiteStatus; id_valid_to: string | null }
      | undefined;
    if (!r) return null;
    return {
      workerId: r.worker_id,
      name: r.name,
      status: r.status,
      idValidTo: r.id_valid_to,
      credentials: this.stmt.credsOf.all(r.worker_id) as RosterWorker['credentials'],
    };
  }

  version(): number | null {
    const r = this.stmt.meta.get('version') as { value: string } | undefined;
    return r ? Number(r.value) : null;
  }

  siteKey(): Buffer | null {
    const r = this.stmt.meta.get('siteKey') as { value: string } | undefined;
    return r ? Buffer.from(r.value, 'hex') : null;
  }

  size(): number {
    return (this.stmt.count.get() as { n: number }).n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
