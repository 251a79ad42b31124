import { z } from "zod";
import { address, gpuClass, id, peerIdText, rate } from "./primitives.ts";

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

/** Published on `/gridspot/orders/1` by a submitter; provider bid engines answer on `/gridspot/bid/1.0.0`. */
export const jobOrder = z.object({
  orderId: id,
  submitter: address,
  peerId: peerIdText,
  addrs: z.array(z.string().max(256)).max(16),
  requirements,
  /** The most the submitter pays per meter; a bid above any of them is not made. */
  maxRates: z.array(rate).max(16),
  bidWindowMs: z.number().int().min(100).max(60_000),
  /** Ask providers that do not bid to say why (Decline with a reason code). */
  explain: z.boolean(),
});
export type JobOrder = z.infer<typeof jobOrder>;
