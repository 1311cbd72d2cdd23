/** Small statistics helpers for the benchmark. */

/**
 * The q-quantile (0..1) of the values, nearest rank.
 * @param values the sample
 * @param q the quantile
 */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) {
    return Number.NaN;
  }
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** The median. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/**
 * Jain's fairness index of per-worker shares: 1 when all are equal, 1/n when one takes everything.
 * @param shares turns per worker
 */
export function jain(shares: readonly number[]): number {
  const sum = shares.reduce((a, b) => a + b, 0);
  const squares = shares.reduce((a, b) => a + b * b, 0);
  return squares === 0 ? Number.NaN : (sum * sum) / (shares.length * squares);
}

/**
 * Counts pairs of intervals that overlap, after sorting by start.
 * @param intervals [start, end] pairs on one clock
 */
export function overlaps(intervals: ReadonlyArray<readonly [number, number]>): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let count = 0;
  let latestEnd = Number.NEGATIVE_INFINITY;
  for (const [start, end] of sorted) {
    if (start < latestEnd) {
      count += 1;
    }
    latestEnd = Math.max(latestEnd, end);
  }
  return count;
}
