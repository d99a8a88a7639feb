import Database from 'better-sqlite3';
import type { RosterWorkerLike } from '../core/roster-message.js';
import type { RosterInfo, RosterWorkerView } from '../control/views.js';
import type { RosterStore } from './roster/roster-store.js';

/**
 * The technician's view of the gate's roster (`sitegate roster info|find`). RosterStore answers
 * lookups by credential and worker id; counting credentials and searching names are read here
 * through a read-only connection to the same file (WAL lets it read beside the writer), until
 * RosterStore offers `credentialCounts()` and `searchByName()` of its own.
 */
export class GateRosterView {
  private db: Database.Database | null = null;

  constructor(
    private readonly store: RosterStore,
    private readonly path: string,
  ) {}

  info(): RosterInfo {
    const credentials: Record<string, number> = {};
    for (const r of this.query<{ kind: string; n: number }>('SELECT kind, COUNT(*) AS n FROM credentials GROUP BY kind ORDER BY kind')) credentials[r.kind] = r.n;
    return { siteId: this.store.siteId(), version: this.store.version(), size: this.store.size(), credentials };
  }

  find(query: string, limit: number): RosterWorkerView[] {
    const out: RosterWorkerView[] = [];
    const exact = this.store.findWorker(query);
    if (exact) out.push(view(exact));
    const rows = this.query<{ doc: string }>(
      "SELECT doc FROM workers WHERE instr(json_extract(doc, '$.name'), ?) > 0 ORDER BY worker_id LIMIT ?",
      query,
      limit + 1,
    );
    for (const r of rows) {
      const w = JSON.parse(r.doc) as RosterWorkerLike;
      if (w.workerId !== exact?.workerId) out.push(view(w));
    }
    return out.slice(0, limit);
  }

  close(): void {
    this.db?.close();
    this.db = null;
  }

  private query<T>(sql: string, ...args: unknown[]): T[] {
    try {
      this.db ??= new Database(this.path, { readonly: true, fileMustExist: true });
      return this.db.prepare(sql).all(...args) as T[];
    } catch {
      return [];
    }
  }
}

function view(w: RosterWorkerLike): RosterWorkerView {
  return {
    workerId: w.workerId,
    name: w.name,
    status: w.status,
    idValidTo: w.idValidTo ?? null,
    credentials: [...new Set(w.credentials.map((c) => c.kind))],
  };
}
