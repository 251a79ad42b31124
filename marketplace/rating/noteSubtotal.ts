import type { Granularity, Pricing, Rate } from "../messages/primitives.ts";
import { rateAboveMax } from "../order/rateAboveMax.ts";
import { rateUsage } from "./rateUsage.ts";
import type { UsageTotals } from "./types.ts";

export type NoteSubtotalParameters = {
  pricing: Pricing;
  /** The rates this note uses: the agreement's in a fixed agreement, the current spot rates in a spot one. */
  rates: readonly Rate[];
  granularity: Granularity;
  totals: UsageTotals;
  /** The previous note's cumulative usage and subtotal (undefined for the first note). */
  previous: { totals: UsageTotals; subtotal: bigint } | undefined;
};

/**
 * What a note bills before the minimum charge, on cumulative totals either way:
 * - fixed: `rate(Qₙ; r)`, the rate card on the cumulative usage;
 * - spot: `subtotalₙ₋₁ + rate(Qₙ; rₙ) − rate(Qₙ₋₁; rₙ)`: the usage since the previous note at the
 *   note's own rates. While the rates stay the same this telescopes to the fixed formula exactly;
 *   each change of rates can round by at most one base unit per meter (per tier band), down, in the
 *   payer's favour. Rating is monotonic in the quantity, so the increment is never negative.
 */
export function noteSubtotal(p: NoteSubtotalParameters): bigint {
  const now = rateUsage(p.totals, p.rates, p.granularity).subtotal;
  if (p.pricing === "fixed" || p.previous === undefined) return now;
  const before = rateUsage(p.previous.totals, p.rates, p.granularity).subtotal;
  return p.previous.subtotal + now - before;
}

/**
 * The rates a spot note may use: every meter of the agreement priced, none above the agreement's
 * maximum for it. Returns why not, or undefined when they are fine.
 */
export function spotRatesProblem(
  rates: readonly Rate[],
  agreed: readonly Rate[],
  maxRates: readonly Rate[],
): string | undefined {
  const meters = (list: readonly Rate[]) =>
    list
      .map((r) => r.meter)
      .sort()
      .join(",");
  if (meters(rates) !== meters(agreed)) return "spot rates do not price the agreed meters";
  if (rates.some((r) => r.tiers !== undefined)) return "spot rates must be flat";
  const above = rateAboveMax(rates, maxRates);
  if (above !== undefined) {
    return `spot rate for ${above.rate.meter} (${above.rate.price}/${above.rate.per}) is above the agreed maximum (${above.max.price}/${above.max.per})`;
  }
  return undefined;
}
