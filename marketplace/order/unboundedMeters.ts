import type { Meter, Rate } from "../messages/primitives.ts";

/**
 * The meters `rates` charge for (a price or a tier band above zero) that `maxRates` sets no maximum
 * for, in rate order. A rate card that charges a meter the payer never capped could bill anything on
 * it, so such a bid is refused at the auction. A zero-priced meter charges nothing and is fine.
 */
export function unboundedMeters(rates: readonly Rate[], maxRates: readonly Rate[]): Meter[] {
  const capped = new Set(maxRates.map((m) => m.meter));
  return rates
    .filter((r) => r.price > 0n || (r.tiers?.bands.some((b) => b.price > 0n) ?? false))
    .map((r) => r.meter)
    .filter((meter) => !capped.has(meter));
}
