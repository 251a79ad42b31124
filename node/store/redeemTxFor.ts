import type { Store } from "../../marketplace/store/openStore.ts";

/**
 * The confirmed redemption that paid a voucher for `cumulativeAmount` on the channel: the first
 * (lowest) confirmed redemption at or above it, since redemptions of a channel only grow. Null when
 * none is recorded.
 */
export function redeemTxFor(store: Store, channelId: bigint, cumulativeAmount: bigint): `0x${string}` | null {
  const row = store.db
    .prepare(
      `SELECT tx_hash FROM redemptions WHERE channel_id = ? AND status = 'confirmed' AND sort_key >= ?
       ORDER BY sort_key LIMIT 1`,
    )
    .get(channelId.toString(), cumulativeAmount.toString().padStart(78, "0")) as
    | { tx_hash: `0x${string}` }
    | undefined;
  return row?.tx_hash ?? null;
}
