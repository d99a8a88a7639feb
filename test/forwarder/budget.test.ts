import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { SqliteRequestLedger } from '../../src/hub/budget.js';
import { msUntilNextShanghaiDay, Pacer } from '../../src/hub/pacer.js';

const T0 = Date.UTC(2026, 10, 21, 2, 0, 0); // 10:00 in Shanghai

describe('daily request budget', () => {
  it('survives a restart: a new pacer on the same database knows what today has spent', async () => {
    const db = new Database(':memory:');
    const clock = new ManualClock(T0);
    const first = new Pacer({ clock, minSpacingMs: 0, bucket: { capacity: 10, refillPerMs: 1 }, dailyBudget: 3, ledger: new SqliteRequestLedger(db) });
    for (let i = 0; i < 2; i++) await first.acquire();
    expect(first.stats.today).toEqual({ day: '2026-11-21', requests: 2, budget: 3 });

    // the hub restarts
    const second = new Pacer({ clock, minSpacingMs: 0, bucket: { capacity: 10, refillPerMs: 1 }, dailyBudget: 3, ledger: new SqliteRequestLedger(db) });
    expect(second.stats.today.requests).toBe(2);
    await second.acquire();
    let fourth = false;
    void second.acquire().then(() => (fourth = true));
    await clock.advance(msUntilNextShanghaiDay(clock.now()) - 1_000);
    expect(fourth).toBe(false);
    await clock.advance(2_000); // past midnight in Shanghai: a new day, a new budget
    expect(fourth).toBe(true);
    expect(second.stats.today).toEqual({ day: '2026-11-22', requests: 1, budget: 3 });
    expect(new SqliteRequestLedger(db).days()).toEqual([
      { day: '2026-11-22', requests: 1 },
      { day: '2026-11-21', requests: 3 },
    ]);
  });
});
