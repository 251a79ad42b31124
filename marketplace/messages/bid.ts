import { z } from "zod";
import { endpointBid } from "./endpoint.ts";
import { address, gpuClass, granularity, id, peerIdText, pricing, rate, uint } from "./primitives.ts";

/** A provider's offer to run one order, sent on `/gridspot/bid/1.0.0`. */
export const bid = z.object({
  orderId: id,
  provider: address,
  peerId: peerIdText,
  addrs: z.array(z.string().max(256)).max(16),
  gpuClass: gpuClass.optional(),
  rates: z.array(rate).min(1).max(16),
  pricing,
  granularity,
  receiptIntervalMs: z.number().int().min(200).max(3_600_000),
  /** In a spot bid: the most each rate may rise to during the job (the agreement's maxRates). */
  maxRates: z.array(rate).max(16).optional(),
  /** The least the job will cost, whatever it uses (the agreement's minimum charge); none if absent. */
  minimumCharge: uint.optional(),
  /** Unix seconds after which the provider no longer holds this price. */
  validUntil: z.number().int().positive(),
  /** Present in a bid for an endpoint order (and only there). */
  endpoint: endpointBid.optional(),
});
export type Bid = z.infer<typeof bid>;

export const DECLINE_REASONS = [
  "no-capacity",
  "gpu-class",
  "vram",
  "cpu",
  "memory",
  "duration",
  "price-above-max",
  "busy",
  /** The image is refused by the provider's image policy, or its runtime cannot run (or needs) one. */
  "image-not-allowed",
] as const;

/** A provider's reason for not bidding, sent only when the order asks to `explain`. */
export const decline = z.object({
  orderId: id,
  provider: address,
  reason: z.enum(DECLINE_REASONS),
  detail: z.string().max(256),
});
export type Decline = z.infer<typeof decline>;

/** The submitter's answer to a bid: take it, or let it go. */
export const bidAnswer = z.discriminatedUnion("type", [
  z.object({ type: z.literal("accept"), orderId: id, jobId: id }),
  z.object({ type: z.literal("pass"), orderId: id }),
]);
export type BidAnswer = z.infer<typeof bidAnswer>;
