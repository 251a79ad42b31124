import { RatingError } from "./errors.ts";
import { isMeter, TIME_METERS } from "./meters.ts";
import { roundUpToGranularity } from "./roundUpToGranularity.ts";
import type { Granularity, Rate, RatedLine, RatedUsage, UnratedUsage, UsageTotals } from "./types.ts";

/**
 * Prices cumulative usage. For each rate, `amount = floor(billedQuantity × price / per)` where
 * `billedQuantity` is the cumulative quantity rounded up to `granularity` for time meters.
 *
 * Always rate cumulative totals, never increments: the amount is then monotonic in the quantity, the
 * amount owed for a debit note is `rate(now).total − rate(previous).total`, and the flooring loses less
 * than one base unit per meter over the whole job, in the payer's favour.
 *
 * A rate whose meter has no usage yields a zero line; usage with no rate is listed in `unrated`.
 * @throws RatingError on a zero or negative `per`, a negative price or quantity, an unknown or
 * repeated rate meter.
 */
export function rateUsage(totals: UsageTotals, rates: readonly Rate[], granularity: Granularity): RatedUsage {
  const rated = new Set<string>();
  const lines: RatedLine[] = [];
  let total = 0n;
  for (const rate of rates) {
    validateRate(rate, rated);
    rated.add(rate.meter);
    const quantity = quantityOf(totals, rate.meter);
    const billedQuantity = TIME_METERS.includes(rate.meter)
      ? roundUpToGranularity(quantity, granularity)
      : quantity;
    const amount = (billedQuantity * rate.price) / rate.per;
    lines.push({ meter: rate.meter, quantity, billedQuantity, price: rate.price, per: rate.per, amount });
    total += amount;
  }
  const unrated: UnratedUsage[] = [];
  for (const meter of Object.keys(totals).sort()) {
    if (!rated.has(meter)) unrated.push({ meter, quantity: quantityOf(totals, meter) });
  }
  return { lines, total, unrated };
}

function validateRate(rate: Rate, seen: ReadonlySet<string>): void {
  if (!isMeter(rate.meter)) throw new RatingError(`rate for unknown meter "${rate.meter}"`, { rate });
  if (seen.has(rate.meter)) throw new RatingError(`two rates for meter "${rate.meter}"`, { rate });
  if (typeof rate.price !== "bigint" || typeof rate.per !== "bigint") {
    throw new RatingError(`rate for "${rate.meter}": price and per must be bigint`, { rate });
  }
  if (rate.per <= 0n) throw new RatingError(`rate for "${rate.meter}": per must be positive`, { rate });
  if (rate.price < 0n)
    throw new RatingError(`rate for "${rate.meter}": price must not be negative`, { rate });
}

function quantityOf(totals: UsageTotals, meter: string): bigint {
  const quantity = Object.hasOwn(totals, meter) ? totals[meter] : 0n;
  if (typeof quantity !== "bigint") {
    throw new RatingError(`usage for "${meter}" must be a bigint`, { meter, quantity });
  }
  if (quantity < 0n) throw new RatingError(`usage for "${meter}" must not be negative`, { meter, quantity });
  return quantity;
}
