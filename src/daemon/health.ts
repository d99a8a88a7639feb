/**
 * The one question the watchdog asks: can this daemon still take or hold its work? For a gate,
 * the journal accepts punches or holds the ones it has (a full disk degrades, it does not kill);
 * for the hub, its store answers. Reader, token, broker and platform faults never make a daemon
 * unhealthy: they degrade it and show in `sitegate status`, so systemd restarts only a hung process.
 */
export interface HealthResult {
  ok: boolean;
  /** why not, in words a technician can act on */
  reason?: string;
}

export type HealthCheck = () => HealthResult;

export const alwaysHealthy: HealthCheck = () => ({ ok: true });

/** Healthy while a read of the database answers (SQLITE_FULL on writes leaves reads working). */
export function databaseHealth(what: string, probe: () => unknown): HealthCheck {
  return () => {
    try {
      probe();
      return { ok: true };
    } catch (err) {
      return { ok: false, reason: `${what} does not answer: ${(err as Error).message}` };
    }
  };
}

/** What sqliteHealth needs of a better-sqlite3 Database. */
export interface SqliteLike {
  readonly open: boolean;
  prepare(sql: string): { get(): unknown };
}

/** A fresh read each time (a prepared statement can outlive its connection). */
export function sqliteHealth(what: string, db: SqliteLike): HealthCheck {
  return databaseHealth(what, () => {
    if (!db.open) throw new Error('the database is closed');
    db.prepare('SELECT 1').get();
  });
}
