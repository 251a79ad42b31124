import type { Address, PublicClient } from "viem";
import { computeEscrowAbi } from "../../marketplace/chain/artifacts.generated.ts";

export type ChannelState = {
  payer: Address;
  provider: Address;
  status: "none" | "open" | "closing" | "closed";
  expiry: number;
  deadline: number;
  amount: bigint;
  redeemed: bigint;
  feeBps: number;
};

const STATUS = ["none", "open", "closing", "closed"] as const;

/** A channel as the escrow holds it now. */
export async function readChannel(
  client: PublicClient,
  escrow: Address,
  channelId: bigint,
): Promise<ChannelState> {
  const c = await client.readContract({
    address: escrow,
    abi: computeEscrowAbi,
    functionName: "getChannel",
    args: [channelId],
  });
  return {
    payer: c.payer,
    provider: c.provider,
    status: STATUS[c.status] ?? "none",
    expiry: Number(c.expiry),
    deadline: Number(c.deadline),
    amount: c.amount,
    redeemed: c.redeemed,
    feeBps: Number(c.feeBps),
  };
}
