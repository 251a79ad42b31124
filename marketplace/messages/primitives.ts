import { getAddress, isAddress } from "viem";
import { z } from "zod";

/** An unsigned integer in base units, carried as a decimal string (at most 78 digits: uint256). */
export const uintString = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,77})$/, "expected a non-negative integer as a decimal string")
  .transform((s) => BigInt(s));

/** Accepts a bigint too, for values built in process. */
export const uint = z.union([z.bigint().nonnegative(), uintString]);

export const address = z
  .string()
  .refine((s) => isAddress(s, { strict: false }), "expected a 0x-prefixed 20-byte address")
  .transform((s) => getAddress(s));

export const hex = z
  .string()
  .regex(/^0x[0-9a-fA-F]*$/, "expected 0x-prefixed hex") as z.ZodType<`0x${string}`>;
export const bytes32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "expected 32 bytes of hex") as z.ZodType<`0x${string}`>;

/** A libp2p peer id as text (base58btc multihash or CIDv1). */
export const peerIdText = z
  .string()
  .min(40)
  .max(128)
  .regex(/^[1-9A-HJ-NP-Za-km-z]+$|^b[a-z2-7]+$/);

/** A GPU class `vendor-model-vram`, e.g. `nvidia-h100-80gb`. */
export const gpuClass = z.string().regex(/^[a-z0-9]+-[a-z0-9]+-[0-9]+gb$/, "expected vendor-model-vramgb");

/** Short identifiers we mint (order, job, agreement ids): url-safe, bounded. */
export const id = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, "expected 8-64 url-safe characters");

export const METERS = ["gpu_ms", "cpu_core_ms", "mem_mib_ms", "egress_bytes", "requests", "tokens"] as const;
export const meter = z.enum(METERS);
export type Meter = z.infer<typeof meter>;

/**
 * A price: `price` token base units for `per` units of `meter` (e.g. per 3,600,000 gpu_ms = per
 * GPU-hour). `gpuClass` says which GPUs a gpu_ms rate is for, in offers that list several.
 */
export const rate = z.object({
  meter,
  price: uint,
  per: uint.refine((v) => v > 0n, "per must be positive"),
  gpuClass: gpuClass.optional(),
});
export type Rate = z.infer<typeof rate>;

export const granularity = z.enum(["ms", "s", "min"]);
export type Granularity = z.infer<typeof granularity>;

export const pricing = z.enum(["fixed", "spot"]);
export type Pricing = z.infer<typeof pricing>;
