import { z } from "zod";
import { endpointOrder } from "./endpoint.ts";
import { address, gpuClass, id, imageRef, peerIdText, rate, suspendedSeconds, uint } from "./primitives.ts";

export const requirements = z.object({
  gpuClass: gpuClass.optional(),
  gpus: z.number().int().min(0).max(64),
  vramMiB: z.number().int().min(0).optional(),
  cpuCores: z.number().int().min(1).max(1024),
  memMiB: z
    .number()
    .int()
    .min(1)
    .max(1 << 24),
  maxDurationS: z
    .number()
    .int()
    .min(1)
    .max(30 * 24 * 3600),
});
export type Requirements = z.infer<typeof requirements>;

/**
 * The most of each counted meter the job may bill in all (its ceiling: the payer signs no note above
 * it). Time meters need none: their ceiling is the allocation × the time run. A bid that prices a
 * counted meter is useless to an order without its maximum here: the payer could sign nothing.
 */
export const maxUsage = z.object({
  egress_bytes: uint.optional(),
  requests: uint.optional(),
  tokens: uint.optional(),
});
export type MaxUsage = z.infer<typeof maxUsage>;

/** Published on `/gridspot/orders/1` by a submitter; provider bid engines answer on `/gridspot/bid/1.0.0`. */
export const jobOrder = z.object({
  orderId: id,
  submitter: address,
  peerId: peerIdText,
  addrs: z.array(z.string().max(256)).max(16),
  requirements,
  /**
   * The container image the job runs in; absent for a plain command (the process runtime). Providers
   * whose image policy refuses it decline with `image-not-allowed`.
   */
  image: imageRef.optional(),
  /**
   * The most the submitter pays per meter; a bid above any of them is not made, and a bid that
   * prices a meter not listed here is refused.
   */
  maxRates: z.array(rate).max(16),
  /** Ceilings on the counted meters (absent: none may be billed). */
  maxUsage: maxUsage.optional(),
  bidWindowMs: z.number().int().min(100).max(60_000),
  /** Ask providers that do not bid to say why (Decline with a reason code). */
  explain: z.boolean(),
  /**
   * How long the provider keeps the job suspended, not killed, while the payer is away (no voucher
   * past the grace period), waiting for it to attach again; the operator's `limits.maxSuspendedS`
   * bounds it. Absent: the provider ends a job whose vouchers stopped one more grace period after
   * suspending it (a foreground CLI that died cannot come back).
   */
  maxSuspendedS: suspendedSeconds.optional(),
  /** An endpoint, not a batch job: its replicas (the requirements are for all of them). */
  endpoint: endpointOrder.optional(),
});
export type JobOrder = z.infer<typeof jobOrder>;
