import { RatingError } from "./errors.ts";
import type { Granularity } from "./types.ts";

const UNIT_MS: Record<Granularity, bigint> = { ms: 1n, s: 1_000n, min: 60_000n };

/**
 * Rounds a millisecond quantity up to a whole multiple of the granularity (`s` → 1000 ms, `min` →
 * 60000 ms). Applied to cumulative totals, so a job pays for at most one partial unit per meter.
 */
export function roundUpToGranularity(quantityMs: bigint, granularity: Granularity): bigint {
  const unit = UNIT_MS[granularity];
  if (unit === undefined) {
    throw new RatingError(`unknown granularity "${String(granularity)}" (expected ms, s or min)`, {
      granularity,
    });
  }
  if (quantityMs < 0n) throw new RatingError("quantity must not be negative", { quantityMs });
  return ((quantityMs + unit - 1n) / unit) * unit;
}
