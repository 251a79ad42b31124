import type { Bid } from "../messages/bid.ts";
import type { MaxUsage, Requirements } from "../messages/order.ts";
import { HOUR_MS } from "../rating/constants.ts";
import { estimateCost } from "./estimateCost.ts";

export type ReceivedBid = { bid: Bid; receivedMs: number };

export type ScoredBid = ReceivedBid & {
  /** What the job as ordered would cost with this bid: see `scoreBids`. */
  jobCost: bigint;
  hourlyCost: bigint;
  /** The provider's on-chain reputation score (see `reputation.ts`); 0 without history. */
  reputation: number;
};

/**
 * Orders bids best first: the lowest cost of the job as ordered — the full requirements for
 * `durationMs` (the expected duration; default the order's maximum), every priced meter (counted
 * ones at the order's `maxUsage`: see `estimateCost`), time rounded up to the bid's granularity,
 * and at least its minimum charge — then the lower cost of an hour, then the better reputation
 * (on-chain history, when given), then the fastest answer, then the provider address (so ties
 * always break the same way). A 3 s job goes to 2.5 GRID/h billed per second over 2 GRID/h billed
 * per minute.
 */
export function scoreBids(
  bids: readonly ReceivedBid[],
  requirements: Requirements,
  reputationOf: (provider: `0x${string}`) => number = () => 0,
  maxUsage: MaxUsage = {},
  durationMs: bigint = BigInt(requirements.maxDurationS) * 1000n,
): ScoredBid[] {
  const order = (x: bigint, y: bigint) => (x < y ? -1 : x > y ? 1 : 0);
  return bids
    .map((b) => {
      const cost = estimateCost(b.bid.rates, requirements, durationMs, maxUsage, b.bid.granularity);
      const minimum = b.bid.minimumCharge ?? 0n;
      return {
        ...b,
        jobCost: cost > minimum ? cost : minimum,
        hourlyCost: estimateCost(b.bid.rates, requirements, HOUR_MS, maxUsage),
        reputation: reputationOf(b.bid.provider),
      };
    })
    .sort((a, b) =>
      a.jobCost !== b.jobCost
        ? order(a.jobCost, b.jobCost)
        : a.hourlyCost !== b.hourlyCost
          ? order(a.hourlyCost, b.hourlyCost)
          : a.reputation !== b.reputation
            ? b.reputation - a.reputation
            : a.receivedMs !== b.receivedMs
              ? a.receivedMs - b.receivedMs
              : a.bid.provider.toLowerCase() < b.bid.provider.toLowerCase()
                ? -1
                : 1,
    );
}
