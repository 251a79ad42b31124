// The statistics the benchmark scripts report: medians of runs, percentiles of latencies.

/** The middle value, or the mean of the two middle ones; NaN for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The nearest-rank percentile `p` (0–100); NaN for none. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
}

/** `x` with at most `digits` decimals, as a number (for JSON). */
export const round = (x: number, digits = 2) => Number(x.toFixed(digits));
