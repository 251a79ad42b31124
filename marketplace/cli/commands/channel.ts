import { type Address, parseEventLogs } from "viem";
import { type ChannelState, readChannel } from "../../chain/actions/readChannel.ts";
import { computeEscrowAbi } from "../../chain/artifacts.generated.ts";
import { BaseError } from "../../errors/base.ts";
import { UsageError } from "../../errors/usage.ts";
import { confirm } from "../confirm.ts";
import { formatGrid, formatTable, formatWhen } from "../format.ts";
import type { GlobalOptions } from "../globalOptions.ts";
import { openChain } from "../openChain.ts";
import type { CommandResult } from "./types.ts";

/** The exit code of a command that started something that is not finished yet. */
const PENDING = 8;

type ChannelRow = ChannelState & { channelId: bigint };

/** `channel list`: the wallet's channels as the escrow holds them, newest first. */
export async function channelList(options: GlobalOptions): Promise<CommandResult> {
  const { account, clients, deployment } = await openChain(options, { wallet: true });
  const escrow = deployment.contracts.computeEscrow;
  const logs = await clients.publicClient.getContractEvents({
    address: escrow,
    abi: computeEscrowAbi,
    eventName: "ChannelOpened",
    args: { payer: account.address },
    fromBlock: deployment.deployBlock,
  });
  const ids = [...new Set(logs.flatMap((l) => (l.args.channelId === undefined ? [] : [l.args.channelId])))];
  const channels: ChannelRow[] = (
    await Promise.all(
      ids.map(async (channelId) => ({
        channelId,
        ...(await readChannel(clients.publicClient, { escrow, channelId })),
      })),
    )
  ).sort((a, b) => (a.channelId < b.channelId ? 1 : -1));
  const now = Number((await clients.publicClient.getBlock()).timestamp) * 1000;
  const json = { payer: account.address, channels };
  if (channels.length === 0)
    return { json, text: `No channels from ${account.address} on chain ${clients.chain.id}.` };
  const rows = [
    ["ID", "PROVIDER", "STATUS", "AMOUNT", "REDEEMED", "UNREDEEMED", "REDEEMABLE UNTIL"],
    ...channels.map((c) => [
      String(c.channelId),
      c.provider,
      c.status,
      formatGrid(c.amount),
      formatGrid(c.redeemed),
      formatGrid(c.amount - c.redeemed),
      c.status === "closed" ? "-" : formatWhen(c.deadline, now),
    ]),
  ];
  return { json, text: formatTable(rows) };
}

/**
 * `channel close ID`: for an open channel, `requestClose` (the provider may still redeem until the
 * challenge window ends) and say when the rest can come back; once the window is over,
 * `finalizeClose` returns what was not redeemed to the free balance. Exit 8 while it is pending.
 */
export async function channelClose(
  options: GlobalOptions,
  p: { channelId: string | undefined },
): Promise<CommandResult> {
  if (p.channelId === undefined || !/^\d+$/.test(p.channelId))
    throw new UsageError(
      `Give a channel id (a whole number, see \`gridspot channel list\`), got "${p.channelId ?? ""}"`,
    );
  const channelId = BigInt(p.channelId);
  const { account, clients, deployment } = await openChain(options, { wallet: true });
  const escrow = deployment.contracts.computeEscrow;
  const read = clients.publicClient;
  let channel = await readChannel(read, { escrow, channelId });
  if (channel.status === "none")
    throw new UsageError(`There is no channel ${channelId} in the escrow on chain ${clients.chain.id}`);
  if (channel.payer.toLowerCase() !== account.address.toLowerCase())
    throw new BaseError(`Channel ${channelId} is not yours: its payer is ${channel.payer}.`);
  const base = { channelId, provider: channel.provider as Address };
  if (channel.status === "closed")
    return { json: { ...base, status: "closed", tx: null }, text: `Channel ${channelId} is already closed.` };

  const chainNow = async () => Number((await read.getBlock()).timestamp);
  let requestTx: `0x${string}` | null = null;
  if (channel.status === "open" && (await chainNow()) < channel.deadline) {
    requestTx = await clients.walletClient.writeContract({
      address: escrow,
      abi: computeEscrowAbi,
      functionName: "requestClose",
      args: [channelId],
    });
    await confirm(read, { hash: requestTx, what: "requestClose" });
    channel = await readChannel(read, { escrow, channelId });
  }
  const now = await chainNow();
  if (now < channel.deadline) {
    const unredeemed = channel.amount - channel.redeemed;
    return {
      json: { ...base, status: "closing", deadline: channel.deadline, unredeemed, tx: requestTx },
      text: [
        requestTx === null
          ? `Channel ${channelId} is closing.`
          : `Asked to close channel ${channelId} (tx ${requestTx}).`,
        `The provider may redeem its vouchers until ${formatWhen(channel.deadline, now * 1000)}.`,
        `Then run \`gridspot channel close ${channelId}\` again to get the unredeemed ${formatGrid(unredeemed)} back to your free balance.`,
      ].join("\n"),
      exitCode: PENDING,
    };
  }
  const hash = await clients.walletClient.writeContract({
    address: escrow,
    abi: computeEscrowAbi,
    functionName: "finalizeClose",
    args: [channelId],
  });
  const receipt = await confirm(read, { hash, what: "finalizeClose" });
  const closed = parseEventLogs({ abi: computeEscrowAbi, logs: receipt.logs, eventName: "ChannelClosed" })[0];
  const refund = closed?.args.refund ?? 0n;
  return {
    json: { ...base, status: "closed", refund, requestTx, tx: hash },
    text: `Closed channel ${channelId} (tx ${hash}): ${formatGrid(refund)} back to your free balance (\`gridspot wallet withdraw\` takes it to the wallet).`,
  };
}
