import type { Database } from 'better-sqlite3';

/** Where the pacer keeps its count of requests per Asia/Shanghai day, so a restart does not reset the budget. */
export interface RequestLedger {
  /** Requests counted on `day` (yyyy-MM-dd) so far. */
  load(day: string): number;
  /** Records the count of `day`. */
  save(day: string, requests: number): void;
}

/** The ledger in the hub's database: one row per day, a few weeks kept. */
export class SqliteRequestLedger implements RequestLedger {
  private readonly get;
  private readonly put;

  constructor(private readonly db: Database, private readonly keepDays = 60) {
    db.exec('CREATE TABLE IF NOT EXISTS platform_requests_daily (day TEXT PRIMARY KEY, requests INTEGER NOT NULL)');
    this.get = db.prepare('SELECT requests FROM platform_requests_daily WHERE day = ?');
    this.put = db.prepare(
      'INSERT INTO platform_requests_daily (day, requests) VALUES (?, ?) ON CONFLICT (day) DO UPDATE SET requests = excluded.requests',
    );
  }

  load(day: string): number {
    return (this.get.get(day) as { requests: number } | undefined)?.requests ?? 0;
  }

  save(day: string, requests: number): void {
    const isNewDay = this.load(day) === 0;
    this.put.run(day, requests);
    if (isNewDay) {
      this.db.prepare('DELETE FROM platform_requests_daily WHERE day NOT IN (SELECT day FROM platform_requests_daily ORDER BY day DESC LIMIT ?)').run(this.keepDays);
    }
  }

  /** Every day recorded, newest first (the operator's report). */
  days(): { day: string; requests: number }[] {
    return this.db.prepare('SELECT day, requests FROM platform_requests_daily ORDER BY day DESC').all() as { day: string; requests: number }[];
  }
}
