import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/manual-clock.js';
import { msUntilNextShanghaiDay, Pacer } from '../../src/hub/pacer.js';

const T0 = Date.UTC(2026, 10, 21, 0, 0, 0); // 08:00 in Shanghai

function tracked(p: Promise<void>) {
  const state = { done: false, error: null as unknown };
  p.then(
    () => (state.done = true),
    (e) => (state.error = e),
  );
  return state;
}

describe('pacer', () => {
  it('lets the first request go at once and the next only after the spacing', async () => {
    const clock = new ManualClock(T0);
    const pacer = new Pacer({ clock });
    await pacer.acquire();
    const second = tracked(pacer.acquire());
    await clock.advance(1199);
    expect(second.done).toBe(false);
    await clock.advance(1);
    expect(second.done).toBe(true);
    expect(pacer.stats).toMatchObject({ requests: 2, waits: 1, lastRequestMs: T0 + 1200 });
  });

  it('counts the spacing from the reply, so a slow request cannot squeeze the next into the platform window', async () => {
    const clock = new ManualClock(T0);
    const pacer = new Pacer({ clock });
    await pacer.acquire();
    await clock.advance(300); // the request is on the wire for 300 ms
    pacer.requestSettled();
    const second = tracked(pacer.acquire());
    await clock.advance(1199);
    expect(second.done).toBe(false);
    await clock.advance(1);
    expect(second.done).toBe(true);
    expect(clock.monotonic()).toBe(1500);
  });

  it('serves waiting callers one at a time', async () => {
    const clock = new ManualClock(T0);
    const pacer = new Pacer({ clock, minSpacingMs: 1000, bucket: { capacity: 3, refillPerMs: 1 / 1000 } });
    const times: number[] = [];
    const all = Array.from({ length: 5 }, () => pacer.acquire().then(() => times.push(clock.monotonic())));
    await clock.advance(10_000);
    await Promise.all(all);
    expect(times).toEqual([0, 1000, 2000, 3000, 4000]);
  });

  it('token bucket limits bursts even with no spacing', async () => {
    const clock = new ManualClock(T0);
    const pacer = new Pacer({ clock, minSpacingMs: 0, bucket: { capacity: 2, refillPerMs: 1 / 5000 } });
    const times: number[] = [];
    const all = Array.from({ length: 4 }, () => pacer.acquire().then(() => times.push(clock.monotonic())));
    await clock.advance(20_000);
    await Promise.all(all);
    expect(times).toEqual([0, 0, 5000, 10000]);
  });

  it('backs off exponentially after rate limits, honours Retry-After, and resets on success', async () => {
    const clock = new ManualClock(T0);
    const pacer = new Pacer({ clock, backoff: { baseMs: 2000, maxMs: 10_000, jitter: () => 0 } });
    await pacer.acquire();
    pacer.noteRateLimited(); // 2000 × (½ + ½·0) = 1000, but spacing 1200 still holds
    pacer.noteRateLimited(); // 4000 → 2000
    pacer.noteRateLimited(); // 8000 → 4000
    let next = tracked(pacer.acquire());
    await clock.advance(3999);
    expect(next.done).toBe(false);
    await clock.advance(1);
    expect(next.done).toBe(true);

    pacer.noteRateLimited(30_000); // Retry-After beyond maxMs still wins
    next = tracked(pacer.acquire());
    await clock.advance(29_999);
    expect(next.done).toBe(false);
    await clock.advance(1);
    expect(next.done).toBe(true);

    pacer.noteRateLimited();
    pacer.noteSuccess();
    next = tracked(pacer.acquire());
    await clock.advance(1200);
    expect(next.done).toBe(true);
    expect(pacer.stats.failureStreak).toBe(0);
  });

  it('uses the injected jitter within half to all of the exponential step', async () => {
    const clock = new ManualClock(T0);
    const pacer = new Pacer({ clock, backoff: { baseMs: 10_000, maxMs: 60_000, jitter: () => 1 } });
    await pacer.acquire();
    pacer.noteFailure();
    expect(pacer.stats.nextAllowedMs).toBe(T0 + 10_000);
  });

  it('halts every request until resume, and fails fast when asked to', async () => {
    const clock = new ManualClock(T0);
    const pacer = new Pacer({ clock });
    pacer.halt('bad_sign (-2)');
    const waiting = tracked(pacer.acquire());
    await expect(pacer.acquire({ failIfHalted: true })).rejects.toMatchObject({ code: 'pacer_halted' });
    await clock.advance(24 * 3600_000);
    expect(waiting.done).toBe(false);
    expect(pacer.stats).toMatchObject({ haltedReason: 'bad_sign (-2)', requests: 0, nextAllowedMs: null });
    pacer.resume();
    await clock.advance(0);
    expect(waiting.done).toBe(true);
    expect(pacer.stats.requests).toBe(1);
  });

  it('gives up a wait when its signal aborts, without counting a request', async () => {
    const clock = new ManualClock(T0);
    const pacer = new Pacer({ clock });
    await pacer.acquire();
    const abort = new AbortController();
    const waiting = tracked(pacer.acquire({ signal: abort.signal }));
    abort.abort();
    await clock.advance(0);
    expect(waiting.error).toMatchObject({ code: 'pacer_aborted' });
    expect(pacer.stats.requests).toBe(1);
  });

  it('stops for the rest of the Shanghai day when the daily budget is spent', async () => {
    const clock = new ManualClock(T0);
    const pacer = new Pacer({ clock, dailyBudget: 3 });
    for (let i = 0; i < 3; i++) {
      const p = tracked(pacer.acquire());
      await clock.advance(1200);
      expect(p.done).toBe(true);
    }
    const fourth = tracked(pacer.acquire());
    const midnightShanghai = Date.UTC(2026, 10, 21, 16, 0, 0);
    await clock.advance(midnightShanghai - clock.now() - 1);
    expect(fourth.done).toBe(false);
    await clock.advance(1);
    expect(fourth.done).toBe(true);
    expect(pacer.stats.today).toEqual({ day: '2026-11-22', requests: 1, budget: 3 });
  });

  it('computes the time to the next Shanghai midnight', () => {
    expect(msUntilNextShanghaiDay(Date.UTC(2026, 10, 21, 15, 59, 59))).toBe(1000);
    expect(msUntilNextShanghaiDay(Date.UTC(2026, 10, 21, 16, 0, 0))).toBe(24 * 3600_000);
  });

  it('refuses nonsensical options', () => {
    const clock = new ManualClock(T0);
    expect(() => new Pacer({ clock, bucket: { capacity: 0, refillPerMs: 1 } })).toThrow(/capacity/);
    expect(() => new Pacer({ clock, dailyBudget: -1 })).toThrow(/dailyBudget/);
  });
});
