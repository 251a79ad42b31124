import type { Address, PublicClient } from "viem";
import { computeEscrowAbi } from "../artifacts.generated.ts";

/** A payment channel as the escrow holds it. `expiry` and `deadline` are unix seconds. */
export type ChannelState = {
  payer: Address;
  provider: Address;
  status: "none" | "open" | "closing" | "closed";
  expiry: number;
  /** The last moment (exclusive) a voucher can be redeemed: expiry + challenge period, or sooner on a close request. */
  deadline: number;
  amount: bigint;
  redeemed: bigint;
  feeBps: number;
};

const STATUS = ["none", "open", "closing", "closed"] as const;

export type ReadChannelParameters = { escrow: Address; channelId: bigint };

/** Reads one channel from the escrow (`getChannel`) as it is now. */
export async function readChannel(
  client: Pick<PublicClient, "readContract">,
  p: ReadChannelParameters,
): Promise<ChannelState> {
  const c = await client.readContract({
    address: p.escrow,
    abi: computeEscrowAbi,
    functionName: "getChannel",
    args: [p.channelId],
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
