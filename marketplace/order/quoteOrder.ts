import type { Requirements } from "../messages/order.ts";
import type { Rate } from "../messages/primitives.ts";
import type { BookEntry } from "../offer/offerBook.ts";
import { estimateCost } from "./estimateCost.ts";
import { matchOffers, type OfferMatch } from "./matchOffers.ts";
import { type MisfitReason, offerMisfit } from "./offerMisfit.ts";

/** What an order would pay now, from the live offers (`gridspot market quote`). */
export type Quote = {
  /** Live offers looked at. */
  offers: number;
  /** Providers whose offer could take the order now. */
  providers: number;
  /** The cheapest fitting offer; null when none fits. */
  cheapest: {
    provider: `0x${string}`;
    gpuClass: string | null;
    rates: Rate[];
    /** Cost of one hour of the full requirements, base units. */
    hourlyCost: bigint;
    /** Cost of the full requirements for the order's maximum duration: the default budget. */
    maxDurationCost: bigint;
  } | null;
  /** The best few fitting offers, cheapest first. */
  best: OfferMatch[];
  /** Why the other offers could not take it, per reason code, most frequent first. */
  misfits: { reason: MisfitReason; count: number }[];
};

/**
 * Quotes an order against the offers in the book: the cheapest fit's cost per hour and for the
 * maximum duration, how many providers could take it, and why the rest could not. Offers are what
 * providers published: a provider's bid may differ if its capacity or price moved since.
 */
export function quoteOrder(
  entries: readonly BookEntry[],
  requirements: Requirements,
  maxRates: readonly Rate[],
  options: { best?: number } = {},
): Quote {
  const matches = matchOffers(entries, requirements, maxRates);
  const fitting = new Set(matches.map((m) => m.provider.toLowerCase()));
  const counts = new Map<MisfitReason, number>();
  for (const { offer } of entries) {
    if (fitting.has(offer.provider.toLowerCase())) continue;
    // Fits by the published figures but not through the matcher (e.g. an unpriced class): no-capacity.
    const reason = offerMisfit(offer, requirements, maxRates) ?? "no-capacity";
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  const first = matches[0];
  return {
    offers: entries.length,
    providers: matches.length,
    cheapest:
      first === undefined
        ? null
        : {
            provider: first.provider,
            gpuClass: first.gpuClass ?? null,
            rates: first.rates,
            hourlyCost: first.hourlyCost,
            maxDurationCost: estimateCost(
              first.rates,
              requirements,
              BigInt(requirements.maxDurationS) * 1000n,
            ),
          },
    best: matches.slice(0, options.best ?? 5),
    misfits: [...counts]
      .map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1)),
  };
}
