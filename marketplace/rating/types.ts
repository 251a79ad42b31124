import type { Meter } from "./meters.ts";

/** Billing granularity of an agreement: time meters are rounded up to a whole ms, second or minute. */
export type Granularity = "ms" | "s" | "min";

/** `price` token base units for every `per` units of `meter` (e.g. per 3_600_000n `gpu_ms` = per GPU-hour). */
export interface Rate {
  meter: Meter;
  price: bigint;
  per: bigint;
}

/** One meter's line: raw cumulative quantity, the quantity after granularity rounding, and its amount. */
export interface RatedLine {
  meter: Meter;
  quantity: bigint;
  billedQuantity: bigint;
  price: bigint;
  per: bigint;
  /** `floor(billedQuantity × price / per)` in token base units. */
  amount: bigint;
}

/** Usage reported for a meter that has no rate: shown, never billed. */
export interface UnratedUsage {
  meter: string;
  quantity: bigint;
}

/** The result of {@link rateUsage}: one line per rate, their sum, and what was left unbilled. */
export interface RatedUsage {
  lines: RatedLine[];
  total: bigint;
  unrated: UnratedUsage[];
}

/** Cumulative usage per meter. Unknown meter names are allowed (they are reported, not billed). */
export type UsageTotals = Readonly<Record<string, bigint>>;
