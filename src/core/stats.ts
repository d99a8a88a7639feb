/** Order statistics for latency figures: p in [0, 100], nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function maxOf(values: readonly number[]): number {
  return values.reduce((m, v) => (v > m ? v : m), -Infinity);
}
