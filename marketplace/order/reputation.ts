import type { Address, PublicClient } from "viem";
import { computeEscrowAbi } from "../chain/artifacts.generated.ts";

/** What the chain says about one provider's past channels. */
export type ProviderReputation = {
  /** Vouchers redeemed on its channels: jobs that ran and were paid. */
  redeemed: number;
  /** Its channels whose payer asked to close before the channel's expiry: a payer who gave up on it. */
  earlyCloses: number;
  /** `redeemed − EARLY_CLOSE_WEIGHT × earlyCloses`: higher is better; 0 for a provider without history. */
  score: number;
};

/** An early close outweighs routine redemptions: it is the one complaint the chain records. */
export const EARLY_CLOSE_WEIGHT = 5;
/** Blocks per log query: public RPC endpoints cap the range of one `eth_getLogs`. */
export const REPUTATION_CHUNK_BLOCKS = 10_000n;

export type ReputationComponents = {
  publicClient: Pick<PublicClient, "getContractEvents" | "getBlockNumber" | "readContract">;
  escrow: Address;
  /** The escrow's deployment block: nothing happened before it. */
  fromBlock: bigint;
};

export type ReputationReader = {
  /** Every provider with history, by lower-cased address; scans only blocks not yet read. */
  read(): Promise<Map<string, ProviderReputation>>;
  /** A provider's reputation from what was read so far (zero history when unknown). */
  of(provider: string): ProviderReputation;
  /** Stops a scan in progress after its current chunk, so a closing client does not wait for it. */
  stop(): void;
};

type ChannelState = { provider: string; expiry: bigint; closedEarly: boolean };

/**
 * Reads the escrow's ChannelOpened, ChannelExtended, Redeemed and CloseRequested events from the
 * deployment block and tallies them per provider. The tally is kept for the session: each `read`
 * scans only the blocks since the previous one, and concurrent reads share one scan. A payer's close
 * request is early when its deadline is before `expiry + challengePeriod` (the contract sets it to
 * `min(now, expiry) + challengePeriod`).
 */
export function createReputationReader(components: ReputationComponents): ReputationReader {
  const { publicClient, escrow } = components;
  const channels = new Map<bigint, ChannelState>();
  const tally = new Map<string, ProviderReputation>();
  let nextBlock = components.fromBlock;
  let challengePeriod: bigint | undefined;
  let inFlight: Promise<Map<string, ProviderReputation>> | undefined;
  let stopped = false;

  const entry = (provider: string): ProviderReputation => {
    let r = tally.get(provider);
    if (r === undefined) {
      r = { redeemed: 0, earlyCloses: 0, score: 0 };
      tally.set(provider, r);
    }
    return r;
  };

  // Kept current as events come in: a scan cut short still ranks by what it read.
  function score(r: ProviderReputation, redeemed: number, earlyCloses: number): void {
    r.redeemed += redeemed;
    r.earlyCloses += earlyCloses;
    r.score = r.redeemed - EARLY_CLOSE_WEIGHT * r.earlyCloses;
  }

  async function scan(): Promise<Map<string, ProviderReputation>> {
    challengePeriod ??= await publicClient.readContract({
      address: escrow,
      abi: computeEscrowAbi,
      functionName: "challengePeriod",
    });
    // viem caches the block number for its polling interval: a stale one would miss new events.
    const latest = await publicClient.getBlockNumber({ cacheTime: 0 });
    while (nextBlock <= latest && !stopped) {
      const toBlock =
        nextBlock + REPUTATION_CHUNK_BLOCKS - 1n < latest ? nextBlock + REPUTATION_CHUNK_BLOCKS - 1n : latest;
      const logs = await publicClient.getContractEvents({
        address: escrow,
        abi: computeEscrowAbi,
        fromBlock: nextBlock,
        toBlock,
      });
      for (const log of logs) apply(log as unknown as EscrowLog, challengePeriod);
      nextBlock = toBlock + 1n;
    }
    return tally;
  }

  function apply(log: EscrowLog, period: bigint): void {
    const args = log.args;
    const channelId = args.channelId;
    if (channelId === undefined) return;
    switch (log.eventName) {
      case "ChannelOpened":
        if (args.provider !== undefined && args.expiry !== undefined) {
          channels.set(channelId, {
            provider: args.provider.toLowerCase(),
            expiry: args.expiry,
            closedEarly: false,
          });
          entry(args.provider.toLowerCase());
        }
        return;
      case "ChannelExtended": {
        const c = channels.get(channelId);
        if (c !== undefined && args.expiry !== undefined) c.expiry = args.expiry;
        return;
      }
      case "Redeemed": {
        const c = channels.get(channelId);
        if (c !== undefined) score(entry(c.provider), 1, 0);
        return;
      }
      case "CloseRequested": {
        const c = channels.get(channelId);
        if (c === undefined || c.closedEarly || args.deadline === undefined) return;
        if (args.deadline < c.expiry + period) {
          c.closedEarly = true;
          score(entry(c.provider), 0, 1);
        }
        return;
      }
      default:
        return;
    }
  }

  return {
    read() {
      inFlight ??= scan().finally(() => {
        inFlight = undefined;
      });
      return inFlight;
    },
    of(provider) {
      return tally.get(provider.toLowerCase()) ?? { redeemed: 0, earlyCloses: 0, score: 0 };
    },
    stop() {
      stopped = true;
    },
  };
}

/** The fields of the escrow events this reader uses (viem decodes each log into one of these). */
type EscrowLog = {
  eventName: string;
  args: {
    channelId?: bigint;
    provider?: Address;
    expiry?: bigint;
    deadline?: bigint;
  };
};
