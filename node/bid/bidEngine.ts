import type { Message } from "@libp2p/gossipsub";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { LocalAccount } from "viem";
import { z } from "zod";
import type { Logger } from "../../marketplace/log/createLogger.ts";
import { type Agreement, agreement as agreementSchema } from "../../marketplace/messages/agreement.ts";
import { type Bid, bidAnswer } from "../../marketplace/messages/bid.ts";
import { type Envelope, envelope, openEnvelope, signEnvelope } from "../../marketplace/messages/envelope.ts";
import { type JobOrder, jobOrder } from "../../marketplace/messages/order.ts";
import type { Meter } from "../../marketplace/messages/primitives.ts";
import { selfReportedMeters } from "../../marketplace/order/selfReportedMeters.ts";
import {
  BID_FRAME_TIMEOUT_MS,
  BID_PROTOCOL,
  DEFAULT_MAX_SUSPENDED_S,
  MAX_BID_FRAME_BYTES,
  ORDERS_ANSWERED_BURST,
  ORDERS_ANSWERED_PER_PEER_PER_S,
  ORDERS_TOPIC,
} from "../../marketplace/p2p/constants.ts";
import type { GridspotHost } from "../../marketplace/p2p/createHost.ts";
import { envelopeTopicValidator } from "../../marketplace/p2p/envelopeTopicValidator.ts";
import { frameChannel } from "../../marketplace/p2p/frames.ts";
import { createPeerRateLimiter } from "../../marketplace/p2p/peerRateLimiter.ts";
import type { Capacity } from "./capacity.ts";
import { type BidTerms, evaluateOrder } from "./evaluateOrder.ts";

export type HeldAgreement = {
  agreement: Agreement;
  signatures: { provider: Envelope; submitter: Envelope };
};

export type BidEngineComponents = {
  host: GridspotHost;
  account: LocalAccount;
  chainId: number;
  escrow: `0x${string}`;
  capacity: Capacity;
  logger: Logger;
  /** Our current terms (rates move with the pricing engine). */
  terms: () => BidTerms;
  /** Demand signals for the pricing engine, by resource class (GPU class, `cpu`, `mem`). */
  signals?: BidSignals;
};

export type BidSignals = {
  /** An order we could run but not now: the classes that were short. */
  turnedAway(classes: string[]): void;
  /** The submitter passed on our bid (it took a cheaper one): the classes the bid priced. */
  lostOnPrice(classes: string[]): void;
};

export type BidEngineInit = {
  /** How long capacity stays held after an Accept for the job to start. */
  holdMs: number;
  graceIntervals: number;
  /** The longest a job stays suspended while its payer is away (provider.json `limits.maxSuspendedS`). */
  maxSuspendedS?: number | undefined;
};

export const bidStreamError = z.object({
  type: z.literal("error"),
  code: z.string().max(64),
  message: z.string().max(512),
});
const bidStreamFrame = z.union([envelope, bidStreamError]);

/**
 * Answers JobOrders from the orders topic: validates them (gossip Reject on bad signature or schema,
 * Ignore when stale), decides bid or decline, and on the submitter's Accept holds the capacity and
 * signs the Agreement with it.
 */
export function createBidEngine(components: BidEngineComponents, init: BidEngineInit) {
  const { host, account, chainId, capacity, logger } = components;
  const held = new Map<string, HeldAgreement>();
  const seenOrders = new Set<string>();
  const pubsub = host.services.pubsub;
  // Rate limit (begin): orders answered per submitter peer, see ORDERS_ANSWERED_PER_PEER_PER_S.
  const answerLimit = createPeerRateLimiter({
    ratePerS: ORDERS_ANSWERED_PER_PEER_PER_S,
    burst: ORDERS_ANSWERED_BURST,
  });
  // Rate limit (end).

  // Gossipsub hands the validator and then the 'message' event the same Message object: the order
  // opened (signature recovered) by the validator is kept for the handler, not opened twice.
  // Oversized messages never get here: createHost's inbound transform refuses them.
  const validOrders = new WeakMap<Message, JobOrder>();
  const validate = envelopeTopicValidator({
    chainId,
    kind: "JobOrder",
    schema: jobOrder,
    signerField: "submitter",
    onValid: (opened, message) => validOrders.set(message, opened.value),
    onRefused: (refusal) =>
      logger.debug("order rejected", { reason: refusal.reason, detail: refusal.detail }),
  });

  const onMessage = (event: CustomEvent<Message>) => {
    const message = event.detail;
    if (message.topic !== ORDERS_TOPIC) return;
    const order = validOrders.get(message);
    if (order === undefined || seenOrders.has(order.orderId)) return;
    validOrders.delete(message);
    void (async () => {
      seenOrders.add(order.orderId);
      if (seenOrders.size > 10_000) seenOrders.clear();
      // Rate limit (begin): the order was still validated and forwarded; this node only does not
      // spend a signature and a stream on it.
      // Keyed by the peer id the submitter signed (the envelope's, which the order must repeat):
      // gossip messages carry no author of their own.
      if (!answerLimit.take(order.peerId)) {
        logger.debug("order not answered: submitter over the rate limit", { orderId: order.orderId });
        return;
      }
      // Rate limit (end).
      await answerOrder(order).catch((error: Error) => {
        logger.warn("bid conversation failed", { orderId: order.orderId, error: error.message });
      });
    })();
  };

  async function answerOrder(order: JobOrder): Promise<void> {
    const terms = components.terms();
    const nowS = Math.floor(Date.now() / 1000);
    const evaluation = evaluateOrder(order, capacity, terms, nowS);
    if (evaluation.kind === "decline" && evaluation.decline.reason === "no-capacity")
      components.signals?.turnedAway(capacity.shortages(order.requirements));
    if (evaluation.kind === "decline" && !order.explain) {
      logger.debug("not bidding", { orderId: order.orderId, reason: evaluation.decline.reason });
      return;
    }
    const expiresAt = nowS + Math.ceil(order.bidWindowMs / 1000) + 30;
    const signed =
      evaluation.kind === "bid"
        ? await signEnvelope(account, {
            chainId,
            kind: "Bid",
            peerId: host.peerId.toString(),
            expiresAt,
            payload: evaluation.bid,
          })
        : await signEnvelope(account, {
            chainId,
            kind: "Decline",
            peerId: host.peerId.toString(),
            expiresAt,
            payload: evaluation.decline,
          });
    const submitterPeer = peerIdFromString(order.peerId);
    if (order.addrs.length > 0) {
      await host.peerStore.merge(submitterPeer, { multiaddrs: order.addrs.map((a) => multiaddr(a)) });
    }
    const signal = AbortSignal.timeout(order.bidWindowMs + 2 * BID_FRAME_TIMEOUT_MS);
    const stream = await host.dialProtocol(submitterPeer, BID_PROTOCOL, { signal });
    const channel = frameChannel(stream, MAX_BID_FRAME_BYTES);
    try {
      await channel.write(signed, { signal });
      if (evaluation.kind === "decline") return;
      logger.info("bid sent", { orderId: order.orderId, gpuClass: evaluation.bid.gpuClass ?? "cpu" });
      const answerEnv = await channel.read(envelope, { signal });
      const answer = await openEnvelope(answerEnv, {
        chainId,
        kind: "BidAnswer",
        schema: bidAnswer,
        peerId: order.peerId,
      });
      if (!answer.ok || answer.envelope.from !== order.submitter || answer.value.orderId !== order.orderId) {
        logger.warn("invalid bid answer", { orderId: order.orderId });
        return;
      }
      const bid = evaluation.bid;
      if (answer.value.type === "pass") {
        components.signals?.lostOnPrice(bid.gpuClass === undefined ? ["cpu", "mem"] : [bid.gpuClass]);
        return;
      }
      const jobId = answer.value.jobId;
      const holdUntil = Date.now() + init.holdMs;
      // Hold the class we priced: an order that names none must not land on a dearer class than bid.
      const wanted =
        bid.gpuClass === undefined ? order.requirements : { ...order.requirements, gpuClass: bid.gpuClass };
      const reservation = held.has(jobId) ? undefined : capacity.reserve(jobId, wanted, holdUntil);
      if (reservation === undefined) {
        components.signals?.turnedAway(capacity.shortages(wanted));
        await channel.write(
          { type: "error", code: "no-capacity", message: "capacity taken since the bid" },
          { signal },
        );
        return;
      }
      const terms: Agreement = {
        jobId,
        orderId: order.orderId,
        submitter: order.submitter,
        submitterPeerId: order.peerId,
        provider: account.address,
        providerPeerId: host.peerId.toString(),
        escrow: components.escrow,
        ...(reservation.gpuClass === undefined ? {} : { gpuClass: reservation.gpuClass }),
        gpus: order.requirements.gpus,
        cpuCores: order.requirements.cpuCores,
        memMiB: order.requirements.memMiB,
        maxDurationS: order.requirements.maxDurationS,
        rates: bid.rates,
        maxRates: bid.pricing === "spot" ? (bid.maxRates ?? bid.rates) : bid.rates,
        pricing: bid.pricing,
        granularity: bid.granularity,
        ...(bid.minimumCharge === undefined ? {} : { minimumCharge: bid.minimumCharge }),
        ...selfReported(bid.rates, order.endpoint !== undefined),
        receiptIntervalMs: bid.receiptIntervalMs,
        graceIntervals: init.graceIntervals,
        // The order's wish, bounded by the operator's limit; absent in the order: the old rule.
        ...(order.maxSuspendedS === undefined
          ? {}
          : { maxSuspendedS: Math.min(order.maxSuspendedS, init.maxSuspendedS ?? DEFAULT_MAX_SUSPENDED_S) }),
        // An endpoint's terms: the order's replicas, the tolerance our bid announced.
        ...(order.endpoint === undefined
          ? {}
          : {
              endpoint: {
                minReplicas: order.endpoint.minReplicas,
                maxReplicas: order.endpoint.maxReplicas,
                meterToleranceMs: bid.endpoint?.meterToleranceMs ?? 0,
              },
            }),
        startBy: Math.floor(holdUntil / 1000),
      };
      const providerSig = await signEnvelope(account, {
        chainId,
        kind: "Agreement",
        peerId: host.peerId.toString(),
        expiresAt: terms.startBy + terms.maxDurationS + 3600,
        payload: terms,
      });
      await channel.write(providerSig, { signal });
      const counter = await channel.read(bidStreamFrame, { signal });
      if ("type" in counter) {
        capacity.release(jobId);
        return;
      }
      const countersigned = await openEnvelope(counter, {
        chainId,
        kind: "Agreement",
        schema: agreementSchema,
        peerId: order.peerId,
        signerField: "submitter",
      });
      if (!countersigned.ok || countersigned.envelope.payload !== providerSig.payload) {
        capacity.release(jobId);
        logger.warn("agreement countersignature invalid", { jobId });
        return;
      }
      held.set(jobId, {
        agreement: terms,
        signatures: { provider: providerSig, submitter: countersigned.envelope },
      });
      setTimeout(() => {
        if (capacity.get(jobId) === undefined) held.delete(jobId);
      }, init.holdMs + 1000).unref();
      logger.info("agreement signed", { jobId, submitter: order.submitter });
    } finally {
      await channel.close();
    }
  }

  return {
    start() {
      pubsub.topicValidators.set(ORDERS_TOPIC, validate);
      pubsub.addEventListener("message", onMessage);
      pubsub.subscribe(ORDERS_TOPIC);
    },
    stop() {
      pubsub.removeEventListener("message", onMessage);
      pubsub.topicValidators.delete(ORDERS_TOPIC);
      pubsub.unsubscribe(ORDERS_TOPIC);
    },
    /** The agreement held for `jobId`, left in place (to check a start before taking it). */
    peekAgreement(jobId: string): HeldAgreement | undefined {
      return held.get(jobId);
    },
    /** The agreement held for `jobId`, taken: a job starts once. */
    takeAgreement(jobId: string): HeldAgreement | undefined {
      const h = held.get(jobId);
      held.delete(jobId);
      return h;
    },
  };
}

export type BidEngine = ReturnType<typeof createBidEngine>;

/**
 * The agreement's `selfReported` field: present only when the card prices a self-reported meter
 * (never for an endpoint: its proxy counts requests and tokens itself).
 */
function selfReported(rates: Bid["rates"], endpoint: boolean): { selfReported?: Meter[] } {
  const meters = selfReportedMeters(rates, { endpoint });
  return meters.length === 0 ? {} : { selfReported: meters };
}
