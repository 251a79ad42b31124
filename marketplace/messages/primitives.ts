import { getAddress, isAddress } from "viem";
import { z } from "zod";
import { MAX_TIER_BANDS } from "../rating/constants.ts";
import { METERS } from "../rating/meters.ts";

export type { Meter } from "../rating/meters.ts";

const UINT256_MAX = 2n ** 256n - 1n;

/** An unsigned integer in base units, carried as a decimal string (at most 78 digits: uint256). */
export const uintString = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,77})$/, "expected a non-negative integer as a decimal string")
  .transform((s) => BigInt(s))
  // 78 digits reach 10^78 - 1, above uint256: such an amount could never be signed or paid.
  .refine((v) => v <= UINT256_MAX, "expected at most 2^256 - 1");

/** Accepts a bigint too, for values built in process. */
export const uint = z.union([
  z.bigint().nonnegative().max(UINT256_MAX, "expected at most 2^256 - 1"),
  uintString,
]);

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

/**
 * A container image reference as Docker writes it: `[registry/]repo[:tag][@sha256:digest]`, or an
 * image ID `sha256:<64 hex>`. Lowercase repository, at most 512 characters.
 */
export const imageRef = z
  .string()
  .max(512)
  .regex(
    /^(sha256:[0-9a-f]{64}|[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?)$/,
    "expected an image reference like ghcr.io/acme/trainer:1.2 or repo@sha256:…",
  );

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

export const meter = z.enum(METERS);

/** How long a job may wait suspended for its payer (an order's wish, an agreement's term): a week at most. */
export const suspendedSeconds = z
  .number()
  .int()
  .min(0)
  .max(7 * 86_400);

/**
 * Optional tiers of a rate, on the job's cumulative quantity in the meter's unit (after granularity
 * rounding). Band `i` covers the quantities above band `i − 1`'s `upTo` (0 for the first) up to and
 * including its own `upTo`; the rate's own `price` covers everything above the last bound.
 * `graduated`: each band's price applies to the quantity inside it; `volume`: the band the whole
 * quantity reached prices all of it (never less than a smaller quantity cost: see `rateTiered`).
 */
export const rateTiers = z
  .object({
    mode: z.enum(["graduated", "volume"]),
    bands: z
      .array(
        z.object({
          upTo: uint.refine((v) => v > 0n, "a tier bound must be positive"),
          price: uint,
        }),
      )
      .min(1)
      .max(MAX_TIER_BANDS),
  })
  .refine(
    (t) => t.bands.every((b, i) => i === 0 || b.upTo > (t.bands[i - 1]?.upTo ?? 0n)),
    "tier bounds must rise strictly",
  );
export type RateTiers = z.infer<typeof rateTiers>;

/**
 * A price: `price` token base units for `per` units of `meter` (e.g. per 3,600,000 gpu_ms = per
 * GPU-hour). `gpuClass` says which GPUs a gpu_ms rate is for, in offers that list several. Without
 * `tiers` it is a flat rate (as every rate was before tiers existed, and those stay valid); with
 * `tiers`, `price` is the price above the last tier bound.
 */
export const rate = z.object({
  meter,
  price: uint,
  per: uint.refine((v) => v > 0n, "per must be positive"),
  gpuClass: gpuClass.optional(),
  tiers: rateTiers.optional(),
});
export type Rate = z.infer<typeof rate>;

export const granularity = z.enum(["ms", "s", "min"]);
export type Granularity = z.infer<typeof granularity>;

export const pricing = z.enum(["fixed", "spot"]);
export type Pricing = z.infer<typeof pricing>;
