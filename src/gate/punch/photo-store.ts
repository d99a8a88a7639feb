import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '../../storage/durable-file.js';

export interface PhotoStoreOptions {
  /** directory for the photo files and their index */
  dir: string;
  /** total bytes of photos kept; uploaded photos beyond it are evicted oldest first */
  maxBytes: number;
  wallClock?: () => number;
}

/**
 * Photos live apart from the punch rows: a punch holds the photo's SHA-256, the bytes sit here
 * as one file each. A photo is evicted (oldest first, under the size cap) only after the hub has
 * it; photos not yet uploaded are never evicted, even beyond the cap (`overCap` says so).
 */
export class PhotoStore {
  private readonly db: Database.Database;
  private readonly stmt;
  private readonly now: () => number;

  constructor(private readonly opts: PhotoStoreOptions) {
    mkdirSync(opts.dir, { recursive: true });
    this.now = opts.wallClock ?? Date.now;
    this.db = new Database(join(opts.dir, 'photos.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS photos (
      hash TEXT PRIMARY KEY, size INTEGER NOT NULL, created_ms INTEGER NOT NULL, uploaded INTEGER NOT NULL DEFAULT 0)`);
    this.stmt = {
      put: this.db.prepare('INSERT OR IGNORE INTO photos (hash, size, created_ms) VALUES (?, ?, ?)'),
      has: this.db.prepare('SELECT uploaded FROM photos WHERE hash = ?'),
      uploaded: this.db.prepare('UPDATE photos SET uploaded = 1 WHERE hash = ?'),
      pending: this.db.prepare('SELECT hash FROM photos WHERE uploaded = 0 ORDER BY created_ms, hash LIMIT ?'),
      totals: this.db.prepare('SELECT COALESCE(SUM(size), 0) AS bytes, COUNT(*) AS n, COALESCE(SUM(CASE WHEN uploaded = 0 THEN size END), 0) AS pending FROM photos'),
      oldestUploaded: this.db.prepare('SELECT hash, size FROM photos WHERE uploaded = 1 ORDER BY created_ms, hash LIMIT 64'),
      drop: this.db.prepare('DELETE FROM photos WHERE hash = ?'),
    };
  }

  /** Stores the photo durably (file synced before its row commits) and returns its SHA-256. */
  put(bytes: Buffer): string {
    const hash = createHash('sha256').update(bytes).digest('hex');
    if (this.stmt.has.get(hash)) return hash;
    writeFileDurably(this.pathOf(hash), bytes, { file: 0o640, dir: 0o750 });
    this.stmt.put.run(hash, bytes.length, this.now());
    this.evict();
    return hash;
  }

  /** The photo's bytes, or null when it was evicted or never stored (checked against its hash). */
  get(hash: string): Buffer | null {
    if (!/^[0-9a-f]{64}$/.test(hash) || !this.stmt.has.get(hash)) return null;
    try {
      const bytes = readFileSync(this.pathOf(hash));
      return createHash('sha256').update(bytes).digest('hex') === hash ? bytes : null;
    } catch {
      return null;
    }
  }

  /** Photos the hub does not have yet, oldest first. */
  pendingUpload(limit: number): string[] {
    return (this.stmt.pending.all(limit) as { hash: string }[]).map((r) => r.hash);
  }

  /** The hub stored it: from now on it may be evicted. */
  markUploaded(hash: string): void {
    this.stmt.uploaded.run(hash);
    this.evict();
  }

  stats(): { photos: number; bytes: number; pendingBytes: number; overCap: boolean } {
    const t = this.stmt.totals.get() as { bytes: number; n: number; pending: number };
    return { photos: t.n, bytes: t.bytes, pendingBytes: t.pending, overCap: t.bytes > this.opts.maxBytes };
  }

  /** Removes uploaded photos, oldest first, until the store fits its cap. Returns how many went. */
  evict(): number {
    let evicted = 0;
    let bytes = (this.stmt.totals.get() as { bytes: number }).bytes;
    while (bytes > this.opts.maxBytes) {
      const batch = this.stmt.oldestUploaded.all() as { hash: string; size: number }[];
      if (!batch.length) break;
      for (const r of batch) {
        if (bytes <= this.opts.maxBytes) break;
        this.stmt.drop.run(r.hash);
        rmSync(this.pathOf(r.hash), { force: true });
        bytes -= r.size;
        evicted++;
      }
    }
    return evicted;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private pathOf(hash: string): string {
    return join(this.opts.dir, `${hash}.jpg`);
  }
}
