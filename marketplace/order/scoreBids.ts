import type { Bid } from "../messages/bid.ts";
import type { Requirements } from "../messages/order.ts";
import { HOUR_MS } from "../rating/constants.ts";
import { estimateCost } from "./estimateCost.ts";

export type ReceivedBid = { bid: Bid; receivedMs: number };

export type ScoredBid = ReceivedBid & {
  hourlyCost: bigint;
  /** The provider's on-chain reputation score (see `reputation.ts`); 0 without history. */
  reputation: number;
};

/**
 * Orders bids best first: the lowest cost of an hour of the full requirements, then the better
 * reputation (on-chain history, when given), then the fastest answer, then the provider address (so
 * ties always break the same way).
 */
export function scoreBids(
  bids: readonly ReceivedBid[],
  requirements: Requirements,
  reputationOf: (provider: `0x${string}`) => number = () => 0,
): ScoredBid[] {
  return bids
    .map((b) => ({
      ...b,
      hourlyCost: estimateCost(b.bid.rates, requirements, HOUR_MS),
      reputation: reputationOf(b.bid.provider),
    }))
    .sort((a, b) =>
      a.hourlyCost !== b.hourlyCost
        ? a.hourlyCost < b.hourlyCost
          ? -1
          : 1
        : a.reputation !== b.reputation
          ? b.reputation - a.reputation
          : a.receivedMs !== b.receivedMs
            ? a.receivedMs - b.receivedMs
            : a.bid.provider.toLowerCase() < b.bid.provider.toLowerCase()
              ? -1
              : 1,
    );
}
