import type { Connection, Stream } from "@libp2p/interface";
import type { Address, LocalAccount } from "viem";
import { z } from "zod";
import type { Logger } from "../log/createLogger.ts";
import { type Agreement, agreement as agreementSchema } from "../messages/agreement.ts";
import { type Bid, bid as bidSchema, type Decline, decline as declineSchema } from "../messages/bid.ts";
import { type Envelope, envelope, openEnvelope, signEnvelope } from "../messages/envelope.ts";
import type { JobOrder } from "../messages/order.ts";
import { rateAboveMax } from "../order/rateAboveMax.ts";
import { selfReportedMeters } from "../order/selfReportedMeters.ts";
import { unboundedMeters } from "../order/unboundedMeters.ts";
import {
  BID_FRAME_TIMEOUT_MS,
  BID_PROTOCOL,
  BID_STREAM_BURST,
  BID_STREAMS_PER_PEER_PER_S,
  MAX_BID_FRAME_BYTES,
  MAX_INBOUND_BID_STREAMS,
} from "../p2p/constants.ts";
import type { GridspotHost } from "../p2p/createHost.ts";
import { type FrameChannel, frameChannel } from "../p2p/frames.ts";
import { createPeerRateLimiter } from "../p2p/peerRateLimiter.ts";
import { rateCardKey } from "../rating/rateCardKey.ts";

export type OpenBid = { bid: Bid; receivedMs: number; channel: FrameChannel };

/** A signed bid the auction refused, and why (counted in the auction's explanation). */
export type RefusedBid = {
  provider: Address;
  /** `unpriced-meter`: it prices a meter the order set no maximum for; `above-max`: above a maximum. */
  reason: "unpriced-meter" | "above-max";
  detail: string;
};

type Auction = {
  order: JobOrder;
  startedMs: number;
  bids: OpenBid[];
  declines: Decline[];
  refused: RefusedBid[];
};

const bidStreamError = z.object({ type: z.literal("error"), code: z.string(), message: z.string() });

/**
 * The submitter's side of `/gridspot/bid/1.0.0`: collects signed Bids and Declines for the orders it
 * has open, keeping each bidder's stream so the winner can be sent an Accept on it.
 */
export function createBidCollector(components: {
  host: GridspotHost;
  account: LocalAccount;
  chainId: number;
  logger: Logger;
  /** Whether a provider may be dealt with (registered and staked on-chain). */
  isActiveProvider: (provider: Address) => Promise<boolean>;
}) {
  const { host, account, chainId, logger } = components;
  const auctions = new Map<string, Auction>();
  const streamLimit = createPeerRateLimiter({
    ratePerS: BID_STREAMS_PER_PEER_PER_S,
    burst: BID_STREAM_BURST,
  });

  async function serve(stream: Stream, connection: Connection): Promise<void> {
    const remotePeer = connection.remotePeer.toString();
    // Before a byte is read: a peer opening bid streams faster than any provider answers orders
    // gets them reset at once, so it costs us neither buffers nor signature checks.
    if (!streamLimit.take(remotePeer)) {
      logger.debug("bid stream over the rate limit", { peer: remotePeer });
      stream.abort(new Error("bid stream rate limit exceeded"));
      return;
    }
    const channel = frameChannel(stream, MAX_BID_FRAME_BYTES);
    let raw: Envelope;
    try {
      raw = await channel.read(envelope, { signal: AbortSignal.timeout(BID_FRAME_TIMEOUT_MS) });
    } catch (error) {
      logger.debug("bad bid frame", { peer: remotePeer, error: (error as Error).message });
      return channel.close();
    }
    if (raw.kind === "Decline") {
      const opened = await openEnvelope(raw, {
        chainId,
        kind: "Decline",
        schema: declineSchema,
        peerId: remotePeer,
        signerField: "provider",
      });
      if (opened.ok) auctions.get(opened.value.orderId)?.declines.push(opened.value);
      return channel.close();
    }
    const opened = await openEnvelope(raw, {
      chainId,
      kind: "Bid",
      schema: bidSchema,
      peerId: remotePeer,
      signerField: "provider",
    });
    const auction = opened.ok ? auctions.get(opened.value.orderId) : undefined;
    if (!opened.ok || auction === undefined) {
      logger.debug("bid ignored", { peer: remotePeer, reason: opened.ok ? "no such order" : opened.reason });
      return channel.close();
    }
    const bid = opened.value;
    // A spot bid's rate may rise to its maxima: those must be within the order's.
    const card = bid.pricing === "spot" ? (bid.maxRates ?? bid.rates) : bid.rates;
    const unbounded = unboundedMeters([...bid.rates, ...card], auction.order.maxRates);
    const refusal: RefusedBid | undefined =
      unbounded.length > 0
        ? {
            provider: bid.provider,
            reason: "unpriced-meter",
            detail: `prices ${[...new Set(unbounded)].join(", ")}, for which the order set no maximum`,
          }
        : rateAboveMax(card, auction.order.maxRates) !== undefined
          ? { provider: bid.provider, reason: "above-max", detail: "a rate above the order's maximum" }
          : undefined;
    if (refusal !== undefined) {
      logger.debug("bid refused", { ...refusal });
      auction.refused.push(refusal);
      return channel.close();
    }
    if (!(await components.isActiveProvider(bid.provider))) {
      logger.debug("bid refused", { provider: bid.provider, reason: "not an active provider" });
      return channel.close();
    }
    auction.bids.push({ bid, receivedMs: Date.now() - auction.startedMs, channel });
  }

  return {
    async start() {
      await host.handle(BID_PROTOCOL, (stream, connection) => void serve(stream, connection), {
        maxInboundStreams: MAX_INBOUND_BID_STREAMS,
      });
    },
    async stop() {
      await host.unhandle(BID_PROTOCOL);
    },
    open(order: JobOrder) {
      auctions.set(order.orderId, { order, startedMs: Date.now(), bids: [], declines: [], refused: [] });
    },
    /** Closes the auction: what came in during the window. */
    close(orderId: string): { bids: OpenBid[]; declines: Decline[]; refused: RefusedBid[] } {
      const auction = auctions.get(orderId);
      auctions.delete(orderId);
      return {
        bids: auction?.bids ?? [],
        declines: auction?.declines ?? [],
        refused: auction?.refused ?? [],
      };
    },
    /**
     * Accepts `winner`: sends the signed Accept, checks the provider's Agreement against the bid and
     * the order, and countersigns it. Returns undefined when the provider backs out.
     */
    async accept(order: JobOrder, winner: OpenBid, jobId: string) {
      const signal = AbortSignal.timeout(2 * BID_FRAME_TIMEOUT_MS);
      const nowS = Math.floor(Date.now() / 1000);
      const answer = await signEnvelope(account, {
        chainId,
        kind: "BidAnswer",
        peerId: host.peerId.toString(),
        expiresAt: nowS + 120,
        payload: { type: "accept", orderId: order.orderId, jobId },
      });
      await winner.channel.write(answer, { signal });
      const reply = await winner.channel.read(z.union([envelope, bidStreamError]), { signal });
      if ("type" in reply) {
        logger.info("provider backed out", { provider: winner.bid.provider, code: reply.code });
        return undefined;
      }
      const opened = await openEnvelope(reply, {
        chainId,
        kind: "Agreement",
        schema: agreementSchema,
        peerId: winner.bid.peerId,
        signerField: "provider",
      });
      if (!opened.ok) throw new Error(`invalid agreement from ${winner.bid.provider}: ${opened.detail}`);
      const problem = checkAgreement(opened.value, order, winner.bid, jobId, account.address);
      if (problem !== undefined)
        throw new Error(`agreement from ${winner.bid.provider} does not match: ${problem}`);
      // Countersign the exact payload the provider signed.
      const countersigned: Envelope = await signEnvelope(account, {
        chainId,
        kind: "Agreement",
        peerId: host.peerId.toString(),
        expiresAt: reply.expiresAt,
        payload: JSON.parse(reply.payload),
      });
      if (countersigned.payload !== reply.payload)
        throw new Error("agreement payload is not in canonical form");
      await winner.channel.write(countersigned, { signal });
      await winner.channel.close();
      return { agreement: opened.value, signatures: { provider: reply, submitter: countersigned } };
    },
    async pass(order: JobOrder, loser: OpenBid) {
      const answer = await signEnvelope(account, {
        chainId,
        kind: "BidAnswer",
        peerId: host.peerId.toString(),
        expiresAt: Math.floor(Date.now() / 1000) + 120,
        payload: { type: "pass", orderId: order.orderId },
      });
      await loser.channel.write(answer).catch(() => {});
      await loser.channel.close();
    },
  };
}

function checkAgreement(
  a: Agreement,
  order: JobOrder,
  bid: Bid,
  jobId: string,
  submitter: Address,
): string | undefined {
  if (a.jobId !== jobId || a.orderId !== order.orderId) return "ids";
  if (a.submitter !== submitter || a.provider !== bid.provider) return "parties";
  const r = order.requirements;
  if (
    a.gpus !== r.gpus ||
    a.cpuCores !== r.cpuCores ||
    a.memMiB !== r.memMiB ||
    a.maxDurationS !== r.maxDurationS
  )
    return "resources";
  if (r.gpuClass !== undefined && a.gpuClass !== r.gpuClass) return "gpu class";
  // The agreement must be for the class that was bid (and priced), whether or not the order named one.
  if (a.gpuClass !== bid.gpuClass) return "gpu class differs from the bid";
  // Tiers are part of a rate: an agreement may not add, drop or move a band the bid did not show.
  if (rateCardKey(a.rates) !== rateCardKey(bid.rates)) return "rates differ from the bid";
  if (a.pricing !== bid.pricing) return "pricing differs from the bid";
  if (a.pricing === "spot" && rateCardKey(a.maxRates) !== rateCardKey(bid.maxRates ?? bid.rates))
    return "spot maxima differ from the bid";
  // Nor a minimum charge other than the one the bid announced.
  if ((a.minimumCharge ?? 0n) !== (bid.minimumCharge ?? 0n))
    return "a minimum charge the bid did not announce";
  // Self-reported meters follow from the card (selfReportedMeters): a provider may not widen them.
  const endpoint = order.endpoint !== undefined;
  if ((a.selfReported ?? []).join(",") !== selfReportedMeters(bid.rates, { endpoint }).join(","))
    return "self-reported meters other than the card's";
  // An endpoint's terms: the order's replicas and the tolerance the bid asked for; none for a job.
  if (
    endpoint
      ? a.endpoint?.minReplicas !== order.endpoint?.minReplicas ||
        a.endpoint?.maxReplicas !== order.endpoint?.maxReplicas ||
        bid.endpoint === undefined ||
        a.endpoint?.meterToleranceMs !== bid.endpoint.meterToleranceMs
      : a.endpoint !== undefined
  )
    return "endpoint terms differ from the order and bid";
  if (a.granularity !== bid.granularity || a.receiptIntervalMs !== bid.receiptIntervalMs)
    return "receipt terms";
  return undefined;
}

export type BidCollector = ReturnType<typeof createBidCollector>;
