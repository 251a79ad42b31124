import type { Bid, Decline } from "../../marketplace/messages/bid.ts";
import type { JobOrder } from "../../marketplace/messages/order.ts";
import type { Granularity, Rate } from "../../marketplace/messages/primitives.ts";
import { rateAboveMax } from "../../marketplace/order/rateAboveMax.ts";
import { ratesForJob } from "../pricing/rates.ts";
import type { Capacity } from "./capacity.ts";

export type BidTerms = {
  provider: `0x${string}`;
  peerId: string;
  addrs: string[];
  rates: Rate[];
  granularity: Granularity;
  receiptIntervalMs: number;
  bidValidityS: number;
};

/** The bid engine's decision for one order: a bid, or a decline with its reason code. */
export type Evaluation = { kind: "bid"; bid: Bid } | { kind: "decline"; decline: Decline };

/** Pure: does the order fit this node now, and at our current price is it within the order's maxima? */
export function evaluateOrder(
  order: JobOrder,
  capacity: Capacity,
  terms: BidTerms,
  nowS: number,
): Evaluation {
  const decline = (reason: Decline["reason"], detail: string): Evaluation => ({
    kind: "decline",
    decline: { orderId: order.orderId, provider: terms.provider, reason, detail },
  });
  const fit = capacity.check(order.requirements);
  if (!fit.fits) return decline(fit.reason, fit.detail);
  const rates = ratesForJob(terms.rates, fit.gpuClass);
  const above = rateAboveMax(rates, order.maxRates);
  if (above !== undefined) {
    return decline(
      "price-above-max",
      `${above.rate.meter} at ${above.rate.price}/${above.rate.per} above the maximum`,
    );
  }
  return {
    kind: "bid",
    bid: {
      orderId: order.orderId,
      provider: terms.provider,
      peerId: terms.peerId,
      addrs: terms.addrs,
      ...(fit.gpuClass === undefined ? {} : { gpuClass: fit.gpuClass }),
      rates,
      pricing: "fixed",
      granularity: terms.granularity,
      receiptIntervalMs: terms.receiptIntervalMs,
      validUntil: nowS + terms.bidValidityS,
    },
  };
}
