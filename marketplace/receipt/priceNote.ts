import type { Agreement } from "../messages/agreement.ts";
import type { Rate } from "../messages/primitives.ts";
import { rateUsage } from "../rating/rateUsage.ts";
import type { RatedUsage, UsageTotals } from "../rating/types.ts";

/** What a priced note leaves for the next one: its cumulative usage and its subtotal. */
export type PricedNoteState = { totals: UsageTotals; subtotal: bigint };

/**
 * One meter's charge over one price stretch: the usage since the previous note at this note's rate.
 * `quantity` and `billedQuantity` are the increments (raw and after granularity rounding), `amount`
 * is `floor(billedNow × price / per) − floor(billedBefore × price / per)`.
 */
export type StretchLine = {
  meter: Rate["meter"];
  quantity: bigint;
  billedQuantity: bigint;
  price: bigint;
  per: bigint;
  amount: bigint;
};

export type PriceNoteParameters = {
  /** The rate card: pricing, granularity, minimum charge (an `Agreement` fits). */
  agreement: Pick<Agreement, "pricing" | "rates" | "granularity" | "minimumCharge">;
  /** What the payer had signed on the channel before this job. */
  channelBase: bigint;
  /**
   * The rates the note uses. Fixed: always the agreement's (this is ignored). Spot: the provider's
   * current rates (checked against the agreement's maxima by `spotRatesProblem`, not here).
   */
  rates: readonly Rate[];
  /** The previous note of the job as priced by this function; undefined for the first note. */
  previous: PricedNoteState | undefined;
  /** The job's cumulative usage at this note. */
  totals: UsageTotals;
};

export type PriceNoteReturnType = {
  /** What the usage costs before the minimum charge. */
  subtotal: bigint;
  /** `max(subtotal, minimumCharge)`: what the job owes so far. */
  jobAmount: bigint;
  minimumChargeApplied: boolean;
  /** `channelBase + jobAmount`: the voucher this note asks for. */
  channelCumulative: bigint;
  /** The cumulative usage rated at the note's rates (fixed: the whole bill, tiers included). */
  rated: RatedUsage;
  /** Spot: one line per priced meter for the usage since the previous note. Fixed: empty. */
  stretch: StretchLine[];
  /** What the next note builds on. */
  state: PricedNoteState;
};

/**
 * The one rule that prices a debit note. The provider cutting notes, the payer checking them,
 * `job verify`, both sides' invoices and reconciliation all call it, so they agree to the base unit.
 *
 * Rounding, all in the payer's favour and never accumulating:
 * - time meters are rounded up to the agreement's granularity on cumulative totals (at most one
 *   partial unit per meter over the whole job); counts and bytes are never rounded;
 * - fixed: `subtotal = rate(Qₙ; card)` on cumulative totals (`rateUsage`: each flat line is
 *   `floor(billed × price / per)`, tiers floor per band), so per-note deltas sum exactly;
 * - spot: `subtotalₙ = subtotalₙ₋₁ + Σₘ [floor(B(Qₙ) × pₙ / per) − floor(B(Qₙ₋₁) × pₙ / per)]`: the
 *   usage since the previous note at the note's own rates. While the rate holds this telescopes to
 *   the fixed formula exactly; each change of rate can lose at most one base unit per meter, down.
 *   Spot rates are flat (no tiers), and the increment is never negative (rating is monotonic);
 * - `jobAmount = max(subtotal, minimumCharge)`, from the first note on;
 * - `channelCumulative = channelBase + jobAmount`.
 */
export function priceNote(p: PriceNoteParameters): PriceNoteReturnType {
  const { agreement } = p;
  const spot = agreement.pricing === "spot";
  const rates = spot ? p.rates : agreement.rates;
  const rated = rateUsage(p.totals, rates, agreement.granularity);
  let subtotal = rated.subtotal;
  const stretch: StretchLine[] = [];
  if (spot) {
    const before = p.previous;
    const ratedBefore =
      before === undefined ? undefined : rateUsage(before.totals, rates, agreement.granularity);
    subtotal = (before?.subtotal ?? 0n) + rated.subtotal - (ratedBefore?.subtotal ?? 0n);
    for (const [i, line] of rated.lines.entries()) {
      const old = ratedBefore?.lines[i];
      stretch.push({
        meter: line.meter,
        quantity: line.quantity - (old?.quantity ?? 0n),
        billedQuantity: line.billedQuantity - (old?.billedQuantity ?? 0n),
        price: line.price,
        per: line.per,
        amount: line.amount - (old?.amount ?? 0n),
      });
    }
  }
  const minimum = agreement.minimumCharge ?? 0n;
  const minimumChargeApplied = minimum > subtotal;
  const jobAmount = minimumChargeApplied ? minimum : subtotal;
  return {
    subtotal,
    jobAmount,
    minimumChargeApplied,
    channelCumulative: p.channelBase + jobAmount,
    rated,
    stretch,
    state: { totals: p.totals, subtotal },
  };
}
