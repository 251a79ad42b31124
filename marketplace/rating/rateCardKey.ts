import type { Rate } from "./types.ts";

/**
 * One canonical string for a set of rates (meter, price, per and tiers; any order, GPU class left
 * out): two rate cards bill the same exactly when their keys are equal. `2/2` and `1/1` differ on
 * purpose: an agreed rate is the one written, not an equivalent one.
 */
export function rateCardKey(rates: readonly Pick<Rate, "meter" | "price" | "per" | "tiers">[]): string {
  return rates
    .map((r) => {
      const flat = `${r.meter}:${r.price}/${r.per}`;
      if (r.tiers === undefined) return flat;
      return `${flat}:${r.tiers.mode}[${r.tiers.bands.map((b) => `${b.upTo}@${b.price}`).join(",")}]`;
    })
    .sort()
    .join(",");
}
