import type { Address, PublicClient } from "viem";
import { computeEscrowAbi } from "../chain/artifacts.generated.ts";

/** What the chain says about one provider's past channels, by value (dust and self-payment left out). */
export type ProviderReputation = {
  /** Redemptions on its channels that paid at least REPUTATION_DUST: jobs that ran and were paid. */
  redeemed: number;
  /** Its channels of at least REPUTATION_DUST whose payer asked to close before expiry: a payer who gave up. */
  earlyCloses: number;
  /** Σ of what those redemptions paid (base units). */
  redeemedValue: bigint;
  /** Σ of those early-closed channels' amounts (base units). */
  earlyClosedValue: bigint;
  /**
   * `Σ valueWeight(each redemption's amount) − EARLY_CLOSE_WEIGHT × Σ valueWeight(each early-closed
   * channel's amount)`: higher is better; 0 for a provider without history.
   */
  score: number;
};

/** An early close outweighs routine redemptions: it is the one complaint the chain records. */
export const EARLY_CLOSE_WEIGHT = 5;
/**
 * Amounts below this count for nothing (0.001 GRID): a reputation bought with 1-wei channels and
 * vouchers costs only gas, so it buys nothing.
 */
export const REPUTATION_DUST = 10n ** 15n;

/**
 * The points an amount earns: 0 below REPUTATION_DUST, else `1 + ⌊log2(amount / REPUTATION_DUST)⌋`
 * (integer division first). Doubling the value adds one point, so value counts, yet no single payer
 * can outweigh a history of many paid jobs; a sybil payer must pay at least the dust per point.
 */
export function valueWeight(amount: bigint): number {
  if (amount < REPUTATION_DUST) return 0;
  return (amount / REPUTATION_DUST).toString(2).length;
}
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

type ChannelState = {
  provider: string;
  expiry: bigint;
  amount: bigint;
  /** The cumulative amount redeemed so far: each Redeemed event's value is the rise. */
  redeemed: bigint;
  closedEarly: boolean;
  /** A payer paying its own provider address: nothing on it counts. */
  selfDealt: boolean;
};

/**
 * Reads the escrow's ChannelOpened, ChannelFunded, ChannelExtended, Redeemed and CloseRequested
 * events from the deployment block and tallies them per provider, by value: a redemption counts what
 * it added to the channel's redeemed amount, an early close the channel's amount, each through
 * `valueWeight` (nothing below REPUTATION_DUST); a channel whose payer is its provider counts for
 * nothing. The tally is kept for the session: each `read`
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
      r = empty();
      tally.set(provider, r);
    }
    return r;
  };

  // Kept current as events come in: a scan cut short still ranks by what it read.
  function redeemed(r: ProviderReputation, value: bigint): void {
    const points = valueWeight(value);
    if (points === 0) return;
    r.redeemed += 1;
    r.redeemedValue += value;
    r.score += points;
  }
  function closedEarly(r: ProviderReputation, amount: bigint): void {
    const points = valueWeight(amount);
    if (points === 0) return;
    r.earlyCloses += 1;
    r.earlyClosedValue += amount;
    r.score -= EARLY_CLOSE_WEIGHT * points;
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
          const provider = args.provider.toLowerCase();
          channels.set(channelId, {
            provider,
            expiry: args.expiry,
            amount: args.amount ?? 0n,
            redeemed: 0n,
            closedEarly: false,
            selfDealt: args.payer?.toLowerCase() === provider,
          });
          entry(provider);
        }
        return;
      case "ChannelFunded": {
        const c = channels.get(channelId);
        if (c !== undefined && args.total !== undefined) c.amount = args.total;
        return;
      }
      case "ChannelExtended": {
        const c = channels.get(channelId);
        if (c !== undefined && args.expiry !== undefined) c.expiry = args.expiry;
        return;
      }
      case "Redeemed": {
        const c = channels.get(channelId);
        if (c === undefined || args.cumulativeAmount === undefined || args.cumulativeAmount <= c.redeemed)
          return;
        const value = args.cumulativeAmount - c.redeemed;
        c.redeemed = args.cumulativeAmount;
        if (!c.selfDealt) redeemed(entry(c.provider), value);
        return;
      }
      case "CloseRequested": {
        const c = channels.get(channelId);
        if (c === undefined || c.closedEarly || args.deadline === undefined) return;
        if (args.deadline < c.expiry + period) {
          c.closedEarly = true;
          if (!c.selfDealt) closedEarly(entry(c.provider), c.amount);
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
      return tally.get(provider.toLowerCase()) ?? empty();
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
    payer?: Address;
    provider?: Address;
    amount?: bigint;
    total?: bigint;
    cumulativeAmount?: bigint;
    expiry?: bigint;
    deadline?: bigint;
  };
};

function empty(): ProviderReputation {
  return { redeemed: 0, earlyCloses: 0, redeemedValue: 0n, earlyClosedValue: 0n, score: 0 };
}
