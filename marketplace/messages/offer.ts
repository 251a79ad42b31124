import { z } from "zod";
import { MAX_METER_TOLERANCE_MS } from "./endpoint.ts";
import { address, gpuClass, granularity, peerIdText, rate, uint } from "./primitives.ts";

/** GPUs of one class on a provider: how many, how many free now, and their memory. */
export const gpuResource = z.object({
  class: gpuClass,
  count: z.number().int().min(0).max(1024),
  free: z.number().int().min(0).max(1024),
  vramMiB: z.number().int().min(0).max(4_194_304),
});

/** Published on `/gridspot/offers/1` every 30 s and on change. */
export const capacityOffer = z.object({
  provider: address,
  peerId: peerIdText,
  addrs: z.array(z.string().max(256)).max(16),
  resources: z.array(gpuResource).max(16),
  cpuCores: z.number().int().min(0).max(4096),
  freeCpuCores: z.number().int().min(0).max(4096),
  memMiB: z
    .number()
    .int()
    .min(0)
    .max(1 << 30),
  freeMemMiB: z
    .number()
    .int()
    .min(0)
    .max(1 << 30),
  rates: z.array(rate).min(1).max(32),
  /** How the provider rounds time up when it bills (its bids carry the same); absent from older nodes. */
  granularity: granularity.optional(),
  /** The least a job is charged, in base units (its bids carry the same); absent when none. */
  minimumCharge: uint.optional(),
  maxDurationS: z.number().int().positive(),
  seq: z.number().int().nonnegative(),
  /**
   * Present when the node serves endpoints (DESIGN §12): its per-1,000 requests and tokens rates
   * (bid on endpoint orders only, besides the time rates above) and the meter tolerance its
   * agreements state. Busy time bills per busy period rounded up to `granularity`; warm minimum
   * replicas as allocated time; cold starts and idle replicas never.
   */
  endpoints: z
    .object({
      rates: z.array(rate).max(2),
      meterToleranceMs: z.number().int().min(0).max(MAX_METER_TOLERANCE_MS),
    })
    .strict()
    .optional(),
});
export type CapacityOffer = z.infer<typeof capacityOffer>;
