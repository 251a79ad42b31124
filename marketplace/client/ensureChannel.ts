import { type Address, parseEventLogs, parseSignature } from "viem";
import { readChannel } from "../chain/actions/readChannel.ts";
import { waitForSuccess } from "../chain/actions/waitForSuccess.ts";
import { computeEscrowAbi, computeTokenAbi } from "../chain/artifacts.generated.ts";
import type { WalletChainClients } from "../chain/clients.ts";
import { permitTypedData } from "../chain/permit.ts";
import { formatGrid } from "../cli/format.ts";
import { BaseError } from "../errors/base.ts";
import type { Store } from "../store/openStore.ts";
import { claimChannel, openChannelsTo, upsertChannel } from "./submitterStore.ts";

export class InsufficientFundsError extends BaseError {
  override name = "InsufficientFundsError";
}

export type EnsureChannelParameters = {
  token: Address;
  escrow: Address;
  provider: Address;
  /** The channel must have at least this much left above what was signed on it. */
  amount: bigint;
  /** It must stay redeemable until at least this unix time. */
  until: number;
  jobId: string;
  onProgress?: (message: string) => void;
};

/**
 * A funded, open channel to `provider` reserved for `jobId`: an idle one with enough left is reused,
 * one with too little is topped up, otherwise a new one is opened. Money moves from the wallet into
 * the escrow with one `depositWithPermit` (no separate approve) only when the free balance is short.
 */
export async function ensureChannel(clients: WalletChainClients, store: Store, p: EnsureChannelParameters) {
  const { publicClient, walletClient } = clients;
  const me = walletClient.account.address;
  const wait = (hash: `0x${string}`, what: string) => waitForSuccess(publicClient, { hash, what });
  const chainNow = Number((await publicClient.getBlock()).timestamp);

  // Reuse an idle channel that outlives the job.
  for (const c of openChannelsTo(store, p.escrow, p.provider)) {
    if (c.busyJob !== null) continue;
    const onChain = await readChannel(publicClient, { escrow: p.escrow, channelId: c.channelId });
    if (onChain.status !== "open" || onChain.deadline < p.until || onChain.expiry <= chainNow) continue;
    const left = onChain.amount - c.signed;
    if (left < p.amount) {
      await deposit(p.amount - left);
      p.onProgress?.(`topping up channel ${c.channelId} by ${formatGrid(p.amount - left)}`);
      await wait(
        await walletClient.writeContract({
          address: p.escrow,
          abi: computeEscrowAbi,
          functionName: "fundChannel",
          args: [c.channelId, p.amount - left],
        }),
        "fundChannel",
      );
    }
    upsertChannel(store, { ...c, amount: onChain.amount + (left < p.amount ? p.amount - left : 0n) });
    if (claimChannel(store, c.channelId, p.jobId)) return { channelId: c.channelId, base: c.signed };
  }

  await deposit(p.amount);
  const expiry = BigInt(Math.max(p.until, chainNow + 7 * 24 * 3600));
  p.onProgress?.(`opening a channel to ${p.provider}`);
  const receipt = await wait(
    await walletClient.writeContract({
      address: p.escrow,
      abi: computeEscrowAbi,
      functionName: "openChannel",
      args: [p.provider, p.amount, expiry],
    }),
    "openChannel",
  );
  // The id comes from our own ChannelOpened event: another payer may open a channel in the same block.
  const opened = parseEventLogs({ abi: computeEscrowAbi, logs: receipt.logs, eventName: "ChannelOpened" })[0];
  if (opened === undefined)
    throw new BaseError("openChannel emitted no ChannelOpened event", { details: receipt.transactionHash });
  const channelId = opened.args.channelId;
  upsertChannel(store, {
    channelId,
    escrow: p.escrow,
    provider: p.provider,
    amount: p.amount,
    signed: 0n,
    expiry: Number(expiry),
    status: "open",
  });
  claimChannel(store, channelId, p.jobId);
  return { channelId, base: 0n };

  async function deposit(needed: bigint): Promise<void> {
    const free = await publicClient.readContract({
      address: p.escrow,
      abi: computeEscrowAbi,
      functionName: "freeBalance",
      args: [me],
    });
    if (free >= needed) return;
    const amount = needed - free;
    const balance = await publicClient.readContract({
      address: p.token,
      abi: computeTokenAbi,
      functionName: "balanceOf",
      args: [me],
    });
    if (balance < amount) {
      throw new InsufficientFundsError(
        `Not enough GRID: the job needs ${formatGrid(amount)} more in the escrow, and the wallet holds ${formatGrid(balance)}.`,
        {
          metaMessages: [
            "Fund the wallet (`gridspot wallet faucet` on a dev chain or testnet) or lower --budget.",
          ],
        },
      );
    }
    const nonce = await publicClient.readContract({
      address: p.token,
      abi: computeTokenAbi,
      functionName: "nonces",
      args: [me],
    });
    const name = await publicClient.readContract({
      address: p.token,
      abi: computeTokenAbi,
      functionName: "name",
    });
    const deadline = BigInt(chainNow + 3600);
    const signature = await walletClient.signTypedData({
      account: walletClient.account,
      ...permitTypedData({
        tokenName: name,
        token: p.token,
        chainId: clients.chain.id,
        owner: me,
        spender: p.escrow,
        value: amount,
        nonce,
        deadline,
      }),
    });
    const { r, s, v, yParity } = parseSignature(signature);
    p.onProgress?.(`depositing ${formatGrid(amount)} into the escrow`);
    await wait(
      await walletClient.writeContract({
        address: p.escrow,
        abi: computeEscrowAbi,
        functionName: "depositWithPermit",
        args: [amount, deadline, Number(v ?? BigInt(yParity + 27)), r, s],
      }),
      "depositWithPermit",
    );
  }
}
