import type { Rate } from "../messages/primitives.ts";
import { rateAboveMax } from "../order/rateAboveMax.ts";

/**
 * The rates a spot note may use: every meter of the agreement priced, flat, none above the
 * agreement's maximum for it. Returns why not, or undefined when they are fine.
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
