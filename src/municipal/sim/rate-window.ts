export type Admission = { admitted: true } | { admitted: false; retryAfterMs: number };

/**
 * Sliding-window rate limit: at most `limit` admitted requests per key in any `windowMs`.
 * Refused requests do not count, so a client that waits gets through.
 */
export class SlidingWindow {
  private readonly hits = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1) throw new TypeError(`rate limit must be a whole number ≥ 1, got ${limit}`);
    if (!(windowMs > 0)) throw new TypeError(`rate window must be > 0 ms, got ${windowMs}`);
  }

  admit(key: string, atMs: number): Admission {
    const recent = (this.hits.get(key) ?? []).filter((t) => t > atMs - this.windowMs);
    if (recent.length >= this.limit) {
      this.hits.set(key, recent);
      return { admitted: false, retryAfterMs: recent[0] + this.windowMs - atMs };
    }
    recent.push(atMs);
    this.hits.set(key, recent);
    return { admitted: true };
  }
}
