import type { Bid, Decline } from "../../marketplace/messages/bid.ts";
import type { JobOrder } from "../../marketplace/messages/order.ts";
import type { Granularity, Rate } from "../../marketplace/messages/primitives.ts";
import { estimateCost } from "../../marketplace/order/estimateCost.ts";
import { rateAboveMax, rateAtMost } from "../../marketplace/order/rateAboveMax.ts";
import { replicaShare } from "../../marketplace/order/replicaShare.ts";
import { HOUR_MS } from "../../marketplace/rating/constants.ts";
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
  /** The operator's minimum charge per job (pricing.minimumCharge); announced in every bid. */
  minimumCharge?: bigint | undefined;
  /** Spot pricing: the rate may move at each debit note, up to these (the curves' ceilings). */
  spotCeilings?: Rate[] | undefined;
  /**
   * Whether this node's runtime may run the order's image (or plain command, when it names none):
   * undefined when it may, else why not in words (the image policy, or a runtime without containers).
   */
  refuseImage?: ((image: string | undefined, gpus: number) => string | undefined) | undefined;
  /** How this node serves endpoints (DESIGN §12); absent: it serves none and declines their orders. */
  endpoint?: EndpointBidTerms | undefined;
};

/** What a bid for an endpoint order adds to a job's terms. */
export type EndpointBidTerms = {
  /** Announced in the bid (`bid.endpoint.meterToleranceMs`). */
  meterToleranceMs: number;
  /**
   * The `requests` and `tokens` rates (per 1,000) the operator set; each goes into a bid only where
   * the order caps its meter, in `maxRates` and `maxUsage` (a payer signs no note for an uncapped one).
   */
  rates: Rate[];
  /** Undefined when this node can serve replicas of the image (or plain command), else why not in words. */
  refuse(image: string | undefined, gpusPerReplica: number): string | undefined;
};

/** The bid engine's decision for one order: a bid, or a decline with its reason code. */
export type Evaluation = { kind: "bid"; bid: Bid } | { kind: "decline"; decline: Decline };

/**
 * Pure: does the order fit this node now, and at our current price is it within the order's maxima?
 * An order that names no GPU class gets the cheapest class that fits now and is within its maxima
 * (cost of an hour of its full requirements; ties by class name), so a node never declines on price
 * while another of its classes would have done.
 */
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
  const req = order.requirements;
  if (order.endpoint === undefined) {
    const imageRefusal = terms.refuseImage?.(order.image, req.gpus);
    if (imageRefusal !== undefined) return decline("image-not-allowed", imageRefusal.slice(0, 256));
  } else {
    const refusal = endpointRefusal(order, terms.endpoint);
    if (refusal !== undefined) return decline(refusal.reason, refusal.detail.slice(0, 256));
  }
  // An endpoint's requests and tokens, priced only where the order caps them (a batch job: none).
  const counted = order.endpoint === undefined ? [] : countedRates(order, terms.endpoint?.rates ?? []);
  const fit = capacity.check(req);
  if (!fit.fits) return decline(fit.reason, fit.detail);
  const classes = req.gpus > 0 && req.gpuClass === undefined ? capacity.freeClasses(req) : [fit.gpuClass];
  let best: { gpuClass: string | undefined; rates: Rate[]; cost: bigint } | undefined;
  let firstAbove: ReturnType<typeof rateAboveMax>;
  for (const gpuClass of classes) {
    // A free class without a price is not for sale (the operator priced none of its kind).
    if (gpuClass !== undefined && !terms.rates.some((r) => r.meter === "gpu_ms" && r.gpuClass === gpuClass))
      continue;
    const rates = [...ratesForJob(terms.rates, gpuClass), ...counted];
    const above = rateAboveMax(rates, order.maxRates);
    if (above !== undefined) {
      firstAbove ??= above;
      continue;
    }
    const cost = estimateCost(rates, req, HOUR_MS);
    if (
      best === undefined ||
      cost < best.cost ||
      (cost === best.cost && (gpuClass ?? "") < (best.gpuClass ?? ""))
    )
      best = { gpuClass, rates, cost };
  }
  if (best === undefined) {
    return firstAbove === undefined
      ? decline("gpu-class", "no priced GPU class fits")
      : decline(
          "price-above-max",
          `${firstAbove.rate.meter} at ${firstAbove.rate.price}/${firstAbove.rate.per} above the maximum`,
        );
  }
  return {
    kind: "bid",
    bid: {
      orderId: order.orderId,
      provider: terms.provider,
      peerId: terms.peerId,
      addrs: terms.addrs,
      ...(best.gpuClass === undefined ? {} : { gpuClass: best.gpuClass }),
      rates: best.rates,
      ...(terms.spotCeilings === undefined
        ? { pricing: "fixed" as const }
        : {
            pricing: "spot" as const,
            maxRates: spotMaxRates(
              best.rates,
              ratesForJob(terms.spotCeilings, best.gpuClass),
              order.maxRates,
            ),
          }),
      granularity: terms.granularity,
      receiptIntervalMs: terms.receiptIntervalMs,
      ...(terms.minimumCharge === undefined || terms.minimumCharge === 0n
        ? {}
        : { minimumCharge: terms.minimumCharge }),
      validUntil: nowS + terms.bidValidityS,
      ...(order.endpoint === undefined || terms.endpoint === undefined
        ? {}
        : { endpoint: { meterToleranceMs: terms.endpoint.meterToleranceMs } }),
    },
  };
}

/**
 * Why this node cannot serve an endpoint order: it serves no endpoints, the order's resources do
 * not divide evenly among its replicas (`replicaShare`), or no runtime here runs its replicas.
 */
function endpointRefusal(
  order: JobOrder,
  endpoint: EndpointBidTerms | undefined,
): { reason: Decline["reason"]; detail: string } | undefined {
  const maxReplicas = order.endpoint?.maxReplicas ?? 1;
  if (endpoint === undefined)
    return { reason: "image-not-allowed", detail: "this provider serves no endpoints" };
  const share = replicaShare(order.requirements, maxReplicas);
  if (typeof share === "string") {
    const { gpus, cpuCores } = order.requirements;
    // The closest code: the resource that does not split (the detail names every one that does not).
    const reason = gpus % maxReplicas !== 0 ? "gpu-class" : cpuCores % maxReplicas !== 0 ? "cpu" : "memory";
    return { reason, detail: `endpoint order: ${share}` };
  }
  const refusal = endpoint.refuse(order.image, share.gpus);
  return refusal === undefined ? undefined : { reason: "image-not-allowed", detail: refusal };
}

/** The operator's `requests` and `tokens` rates whose meter the order caps in both maxRates and maxUsage. */
function countedRates(order: JobOrder, rates: readonly Rate[]): Rate[] {
  return rates.filter(
    (rate) =>
      (rate.meter === "requests" || rate.meter === "tokens") &&
      order.maxRates.some((max) => max.meter === rate.meter) &&
      order.maxUsage?.[rate.meter] !== undefined,
  );
}

/**
 * A spot bid's maxima: per meter the node's ceiling, lowered to the order's maximum where the order
 * sets one (so the submitter can accept it), and never below the current rate.
 */
function spotMaxRates(current: Rate[], ceilings: Rate[], orderMax: Rate[]): Rate[] {
  return current.map((rate) => {
    let max = ceilings.find((c) => c.meter === rate.meter) ?? rate;
    const cap = orderMax.find((m) => m.meter === rate.meter);
    if (cap !== undefined && !rateAtMost(max, cap))
      max = { meter: rate.meter, price: cap.price, per: cap.per };
    return rateAtMost(rate, max) ? { meter: max.meter, price: max.price, per: max.per } : rate;
  });
}
