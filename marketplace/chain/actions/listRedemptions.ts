import type { Address, Hex, PublicClient } from "viem";
import { computeEscrowAbi } from "../artifacts.generated.ts";

/** One `Redeemed` event of a channel: the cumulative amount it paid up to, and its transaction. */
export type Redemption = { cumulativeAmount: bigint; txHash: Hex; blockNumber: bigint };

export type ListRedemptionsParameters = {
  escrow: Address;
  channelId: bigint;
  /** The escrow's deploy block: no event is older. */
  fromBlock: bigint;
};

/** The channel's `Redeemed` events from the chain, in cumulative order. */
export async function listRedemptions(
  publicClient: Pick<PublicClient, "getContractEvents">,
  p: ListRedemptionsParameters,
): Promise<Redemption[]> {
  const logs = await publicClient.getContractEvents({
    address: p.escrow,
    abi: computeEscrowAbi,
    eventName: "Redeemed",
    args: { channelId: p.channelId },
    fromBlock: p.fromBlock,
  });
  return logs
    .filter((l) => l.args.cumulativeAmount !== undefined && l.transactionHash !== null)
    .map((l) => ({
      cumulativeAmount: l.args.cumulativeAmount as bigint,
      txHash: l.transactionHash as Hex,
      blockNumber: l.blockNumber ?? 0n,
    }))
    .sort((a, b) =>
      a.cumulativeAmount < b.cumulativeAmount ? -1 : a.cumulativeAmount > b.cumulativeAmount ? 1 : 0,
    );
}

/**
 * The transaction that paid a voucher: the first redemption that reached its cumulative amount
 * (a later voucher's redemption pays every earlier one on the channel). Null when none has yet.
 */
export function redeemTxFor(redemptions: readonly Redemption[], cumulativeAmount: bigint): Hex | null {
  return redemptions.find((r) => r.cumulativeAmount >= cumulativeAmount)?.txHash ?? null;
}
