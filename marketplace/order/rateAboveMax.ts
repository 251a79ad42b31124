import type { Rate } from "../messages/primitives.ts";

/** a ≤ b as prices per unit, compared exactly: a.price / a.per ≤ b.price / b.per. */
export function rateAtMost(a: Rate, b: Rate): boolean {
  return a.price * b.per <= b.price * a.per;
}

/**
 * The first rate in `rates` above the maximum the submitter set for its meter (and GPU class, when
 * the maximum names one), if any. Meters without a maximum are not limited.
 */
export function rateAboveMax(
  rates: readonly Rate[],
  maxRates: readonly Rate[],
): { rate: Rate; max: Rate } | undefined {
  for (const max of maxRates) {
    for (const ours of rates) {
      if (ours.meter !== max.meter) continue;
      if (max.gpuClass !== undefined && ours.gpuClass !== undefined && ours.gpuClass !== max.gpuClass)
        continue;
      if (!rateAtMost(ours, max)) return { rate: ours, max };
    }
  }
  return undefined;
}
