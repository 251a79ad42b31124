import type { PublicClient } from "viem";
import { computeEscrowAbi } from "../../marketplace/chain/artifacts.generated.ts";
import type { Logger } from "../../marketplace/log/createLogger.ts";
import { CHANNEL_WATCH_INTERVAL_MS } from "./constants.ts";

export interface ChannelWatcherComponents {
  publicClient: PublicClient;
  escrow: `0x${string}`;
  logger: Logger;
}

export interface ChannelWatcherInit {
  /** The block to start from (the deployment's): close requests before the node started count too. */
  fromBlock: bigint;
  /** Channels the node has work on now: running jobs. Only their close requests are acted on. */
  channels: () => readonly bigint[];
  /** A payer asked to close a channel the node works on (once per channel and request). */
  onCloseRequested: (channelId: bigint, deadline: bigint) => void;
  /** Default {@link CHANNEL_WATCH_INTERVAL_MS}. */
  intervalMs?: number;
}

/**
 * Watches the escrow for `CloseRequested` on the channels of running jobs. A payer who asks to close
 * mid-job could otherwise take the channel's rest back once the challenge window passes while the
 * node kept working unpaid: on a request the node redeems its newest voucher at once and stops the
 * job (`onCloseRequested`). Reads the new blocks' events every `intervalMs` (one `eth_getLogs` per
 * tick; only `eth_blockNumber` while no job runs, so a job starting later reads from there); a
 * failed read is retried at the next tick from the same block.
 */
export function createChannelWatcher(components: ChannelWatcherComponents, init: ChannelWatcherInit) {
  const intervalMs = init.intervalMs ?? CHANNEL_WATCH_INTERVAL_MS;
  let nextBlock = init.fromBlock;
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;
  const seen = new Set<string>();

  const tick = async () => {
    const channels = init.channels();
    const head = await components.publicClient.getBlockNumber();
    if (channels.length === 0 || head < nextBlock) {
      nextBlock = head + 1n;
      return;
    }
    const logs = await components.publicClient.getContractEvents({
      address: components.escrow,
      abi: computeEscrowAbi,
      eventName: "CloseRequested",
      args: { channelId: [...channels] },
      fromBlock: nextBlock,
      toBlock: head,
    });
    nextBlock = head + 1n;
    for (const log of logs) {
      const channelId = log.args.channelId;
      const deadline = log.args.deadline;
      if (channelId === undefined || deadline === undefined) continue;
      const key = `${channelId}:${log.transactionHash}`;
      if (seen.has(key)) continue;
      seen.add(key);
      components.logger.warn("the payer asked to close a channel with a running job", {
        channelId,
        deadline,
        block: log.blockNumber,
      });
      init.onCloseRequested(channelId, deadline);
    }
  };

  const schedule = () => {
    timer = setTimeout(() => {
      tick()
        .catch((error: Error) =>
          components.logger.warn("channel watch failed; retrying", { error: error.message.split("\n")[0] }),
        )
        .finally(() => {
          if (!stopped) schedule();
        });
    }, intervalMs);
    timer.unref();
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
