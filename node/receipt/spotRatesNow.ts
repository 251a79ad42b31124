import type { Agreement } from "../../marketplace/messages/agreement.ts";
import type { Rate } from "../../marketplace/messages/primitives.ts";
import { rateAtMost } from "../../marketplace/order/rateAboveMax.ts";

/**
 * A spot agreement's rates for the next note: the node's current price per agreed meter (`current`,
 * from its pricing engine; the agreed rate where it has none), never above the agreement's maximum.
 * Pure.
 */
export function spotRatesNow(agreement: Agreement, current: readonly Rate[]): Rate[] {
  const agreed = agreement.rates.map(({ gpuClass: _class, ...rate }) => rate);
  return agreed.map((rate) => {
    const now = current.find((r) => r.meter === rate.meter) ?? rate;
    const max = agreement.maxRates.find((m) => m.meter === rate.meter) ?? rate;
    const flat = { meter: rate.meter, price: now.price, per: now.per };
    return rateAtMost(flat, max) ? flat : { meter: max.meter, price: max.price, per: max.per };
  });
}
