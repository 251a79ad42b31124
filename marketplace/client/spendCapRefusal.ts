import { BaseError } from "../errors/base.ts";
import type { Store } from "../store/openStore.ts";
import { signedSince, startOfUtcDay } from "./signedSince.ts";

/** Signing a voucher would cross a cap of the spend policy. */
export class SpendCapError extends BaseError {
  override name = "SpendCapError";
}

export type SpendCaps = { dailyCap: bigint | null; channelCap: bigint | null };

export type SpendCapRefusalParameters = {
  channelId: bigint;
  /** The cumulative amount the voucher would carry. */
  cumulative: bigint;
  /** What was already signed on the channel. */
  channelSigned: bigint;
  /** Unix ms: picks the UTC day the daily cap counts. */
  now: number;
};

/**
 * Why a voucher for `cumulative` on the channel would break a cap, or undefined when it fits:
 * the channel cap bounds the channel's cumulative amount; the daily cap bounds what this submitter
 * signed since midnight UTC over all jobs plus what this voucher adds.
 */
export function spendCapRefusal(
  store: Store,
  caps: SpendCaps,
  p: SpendCapRefusalParameters,
): string | undefined {
  if (caps.channelCap !== null && p.cumulative > caps.channelCap) {
    return `channel cap: channel ${p.channelId} would reach ${p.cumulative}, above the cap of ${caps.channelCap}`;
  }
  if (caps.dailyCap !== null) {
    const adds = p.cumulative > p.channelSigned ? p.cumulative - p.channelSigned : 0n;
    const today = signedSince(store, startOfUtcDay(p.now));
    if (today + adds > caps.dailyCap) {
      return `daily cap: ${today} signed today (UTC) + ${adds} would be ${today + adds}, above the cap of ${caps.dailyCap}`;
    }
  }
  return undefined;
}
