import type { Meter } from "./meters.ts";

/** Billing granularity of an agreement: time meters are rounded up to a whole ms, second or minute. */
export type Granularity = "ms" | "s" | "min";

/**
 * How a tiered rate prices the job's cumulative quantity:
 * - `graduated`: each band's price applies to the part of the quantity inside that band (the first
 *   1,000 units at one price, the next 9,000 at another, …);
 * - `volume`: the band the whole quantity has reached prices all of it.
 */
export type TierMode = "graduated" | "volume";

/**
 * One band of a tiered rate: the quantities above the previous band's `upTo` (0 for the first band)
 * up to and including `upTo`, in the meter's own unit, cost `price` base units per the rate's `per`.
 */
export interface RateTier {
  upTo: bigint;
  price: bigint;
}

/**
 * Bands with strictly rising bounds. Above the last bound the rate's own `price` applies, so a
 * tiered rate is a flat rate (its `price`) with cheaper or dearer bands below given quantities.
 */
export interface RateTiers {
  mode: TierMode;
  bands: readonly RateTier[];
}

/**
 * `price` token base units for every `per` units of `meter` (e.g. per 3_600_000n `gpu_ms` = per
 * GPU-hour). With `tiers`, `price` is the price of the open-ended top band, above the last bound.
 */
export interface Rate {
  meter: Meter;
  price: bigint;
  per: bigint;
  tiers?: RateTiers | undefined;
}

/**
 * The part of a tiered line priced by one band. Tiers are numbered from 1; the top band (above the
 * last bound, at the rate's `price`) is `bands.length + 1` and has `upTo: null`.
 */
export interface RatedTier {
  tier: number;
  /** The band's upper bound in the meter's unit; null for the open-ended top band. */
  upTo: bigint | null;
  /** Raw quantity inside the band (graduated), or the whole raw quantity (volume). */
  quantity: bigint;
  /** Quantity after granularity rounding inside the band (graduated), or all of it (volume). */
  billedQuantity: bigint;
  price: bigint;
  amount: bigint;
  /**
   * Volume only: the lower tier whose top-of-band charge sets the amount, because the reached
   * tier's cheaper price on the whole quantity comes to less (see `rateTiered`). Null otherwise.
   */
  floorFromTier: number | null;
}

/** One meter's line: raw cumulative quantity, the quantity after granularity rounding, and its amount. */
export interface RatedLine {
  meter: Meter;
  quantity: bigint;
  billedQuantity: bigint;
  /** The rate's `price` (for a tiered rate: the top band's price; see `tiers` for the others). */
  price: bigint;
  per: bigint;
  /**
   * Flat: `floor(billedQuantity × price / per)` in token base units. Tiered: the sum of the
   * `tiers` amounts (graduated) or the one volume tier's amount.
   */
  amount: bigint;
  /** Present only for a tiered rate: how the amount splits over the bands. */
  tiers?: RatedTier[];
}

/** Usage reported for a meter that has no rate: shown, never billed. */
export interface UnratedUsage {
  meter: string;
  quantity: bigint;
}

/** The result of {@link rateUsage}: one line per rate, their sum, and what was left unbilled. */
export interface RatedUsage {
  lines: RatedLine[];
  /** The sum of the lines' amounts, before any minimum charge. */
  subtotal: bigint;
  /** What the job owes so far: `max(subtotal, minimumCharge)`. */
  total: bigint;
  /** True when the minimum charge is above the subtotal, so `total` is the minimum. */
  minimumChargeApplied: boolean;
  unrated: UnratedUsage[];
}

/** Options of {@link rateUsage}. */
export interface RateUsageOptions {
  /** The least the job costs, in token base units (the agreement's `minimumCharge`). */
  minimumCharge?: bigint | undefined;
}

/** Cumulative usage per meter. Unknown meter names are allowed (they are reported, not billed). */
export type UsageTotals = Readonly<Record<string, bigint>>;
