import { MAX_TIER_BANDS } from "./constants.ts";
import { RatingError } from "./errors.ts";
import { isMeter, TIME_METERS } from "./meters.ts";
import { rateTiered } from "./rateTiered.ts";
import { roundUpToGranularity } from "./roundUpToGranularity.ts";
import type {
  Granularity,
  Rate,
  RatedLine,
  RatedUsage,
  RateUsageOptions,
  UnratedUsage,
  UsageTotals,
} from "./types.ts";

/**
 * Prices cumulative usage. Per rate, in this order:
 * 1. `billedQuantity` = the cumulative quantity, rounded up to `granularity` for time meters (counts
 *    and bytes are never rounded);
 * 2. flat rate: `amount = floor(billedQuantity × price / per)`; tiered rate: the bands apply to
 *    `billedQuantity` (see `rateTiered` for graduated and volume);
 * 3. `total = max(Σ amounts, minimumCharge)`.
 *
 * Always rate cumulative totals, never increments: the amount is then a function of the quantity,
 * the amount owed for a debit note is `rate(now).total − rate(previous).total`, so the deltas sum
 * exactly to the job's amount, and the flooring loses less than one base unit per meter (per band
 * reached, for graduated tiers) over the whole job, in the payer's favour.
 *
 * A rate whose meter has no usage yields a zero line; usage with no rate is listed in `unrated`.
 * @throws RatingError on a zero or negative `per`, a negative price, quantity or minimum charge, an
 * unknown or repeated rate meter, malformed tiers.
 */
export function rateUsage(
  totals: UsageTotals,
  rates: readonly Rate[],
  granularity: Granularity,
  options: RateUsageOptions = {},
): RatedUsage {
  const rated = new Set<string>();
  const lines: RatedLine[] = [];
  let subtotal = 0n;
  for (const rate of rates) {
    validateRate(rate, rated);
    rated.add(rate.meter);
    const quantity = quantityOf(totals, rate.meter);
    const billedQuantity = TIME_METERS.includes(rate.meter)
      ? roundUpToGranularity(quantity, granularity)
      : quantity;
    const line: RatedLine = {
      meter: rate.meter,
      quantity,
      billedQuantity,
      price: rate.price,
      per: rate.per,
      amount: 0n,
    };
    if (rate.tiers === undefined) {
      line.amount = (billedQuantity * rate.price) / rate.per;
    } else {
      const tiered = rateTiered(quantity, billedQuantity, { ...rate, tiers: rate.tiers });
      line.amount = tiered.amount;
      line.tiers = tiered.tiers;
    }
    lines.push(line);
    subtotal += line.amount;
  }
  const unrated: UnratedUsage[] = [];
  for (const meter of Object.keys(totals).sort()) {
    if (!rated.has(meter)) unrated.push({ meter, quantity: quantityOf(totals, meter) });
  }
  const minimum = options.minimumCharge ?? 0n;
  if (typeof minimum !== "bigint" || minimum < 0n) {
    throw new RatingError("the minimum charge must be a non-negative bigint", { minimum });
  }
  const minimumChargeApplied = minimum > subtotal;
  return { lines, subtotal, total: minimumChargeApplied ? minimum : subtotal, minimumChargeApplied, unrated };
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
  if (rate.tiers !== undefined) validateTiers(rate);
}

function validateTiers(rate: Rate): void {
  const fail = (problem: string) => {
    throw new RatingError(`rate for "${rate.meter}": ${problem}`, { rate });
  };
  const { mode, bands } = rate.tiers ?? { mode: "graduated", bands: [] };
  if (mode !== "graduated" && mode !== "volume")
    fail(`tier mode must be graduated or volume, got "${String(mode)}"`);
  if (!Array.isArray(bands) || bands.length === 0 || bands.length > MAX_TIER_BANDS)
    fail(`tiers need 1 to ${MAX_TIER_BANDS} bands`);
  let previous = 0n;
  for (const [i, band] of bands.entries()) {
    if (typeof band.upTo !== "bigint" || typeof band.price !== "bigint")
      fail(`tier ${i + 1}: upTo and price must be bigint`);
    if (band.upTo <= previous) fail(`tier ${i + 1}: bounds must rise strictly from 0 (upTo ${band.upTo})`);
    if (band.price < 0n) fail(`tier ${i + 1}: price must not be negative`);
    previous = band.upTo;
  }
}

function quantityOf(totals: UsageTotals, meter: string): bigint {
  const quantity = Object.hasOwn(totals, meter) ? totals[meter] : 0n;
  if (typeof quantity !== "bigint") {
    throw new RatingError(`usage for "${meter}" must be a bigint`, { meter, quantity });
  }
  if (quantity < 0n) throw new RatingError(`usage for "${meter}" must not be negative`, { meter, quantity });
  return quantity;
}
