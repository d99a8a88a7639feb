import type { Database } from 'better-sqlite3';

/** One of the pacer's last requests, in wall ms since the epoch. */
export interface RecentRequest {
  /** When its reply came; when it was sent while the reply has not come yet. */
  atMs: number;
  replied: boolean;
}

/**
 * Where the pacer keeps its last `window.requests` requests, so that a hub restarted within one
 * window still counts the requests of the process before it.
 */
export interface ReplyLog {
  /**
   * The requests last saved, oldest first; null when what was saved cannot be read, which the
   * pacer takes as a full window of requests that just replied (it waits one window).
   */
  load(): RecentRequest[] | null;
  save(recent: readonly RecentRequest[]): void;
}

/** The reply log in the hub's database: one row holding the whole (short) list. */
export class SqliteReplyLog implements ReplyLog {
  private readonly get;
  private readonly put;

  constructor(db: Database) {
    db.exec('CREATE TABLE IF NOT EXISTS platform_recent_requests (id INTEGER PRIMARY KEY CHECK (id = 1), recent TEXT NOT NULL)');
    this.get = db.prepare('SELECT recent FROM platform_recent_requests WHERE id = 1');
    this.put = db.prepare('INSERT INTO platform_recent_requests (id, recent) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET recent = excluded.recent');
  }

  /** What was saved ([] when nothing was); null when the row does not parse (hand-edited, damaged). */
  load(): RecentRequest[] | null {
    const row = this.get.get() as { recent: string } | undefined;
    if (!row) return [];
    let parsed: unknown;
    try {
      parsed = JSON.parse(row.recent);
    } catch {
      return null;
    }
    return Array.isArray(parsed) && parsed.every(isRecentRequest) ? parsed : null;
  }

  save(recent: readonly RecentRequest[]): void {
    this.put.run(JSON.stringify(recent.map((r) => ({ atMs: r.atMs, replied: r.replied }))));
  }
}

function isRecentRequest(r: unknown): r is RecentRequest {
  if (typeof r !== 'object' || r === null) return false;
  const { atMs, replied } = r as Record<string, unknown>;
  return typeof atMs === 'number' && Number.isFinite(atMs) && typeof replied === 'boolean';
}
