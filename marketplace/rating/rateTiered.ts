import type { Rate, RatedTier, RateTiers } from "./types.ts";

/** What a tiered rate charges for one meter: the amount and how it splits over the bands. */
export type RateTieredReturnType = { amount: bigint; tiers: RatedTier[] };

/**
 * Prices one meter's cumulative quantity with a tiered rate (already validated). Tier bounds apply
 * to `billed`, the quantity after granularity rounding; `raw` is split over the same bands only to
 * show on invoices where the rounding landed.
 *
 * Rounding rules (every amount is floored, so each rule is in the payer's favour):
 * - graduated: each band is floored on its own, `floor(inBand × bandPrice / per)`: the amount is
 *   monotonic in the quantity and at most one base unit below the exact value per band reached;
 * - volume: `floor(billed × tierPrice / per)` for the tier the whole quantity reached, at most one
 *   base unit below the exact value per meter.
 *
 * Volume and money that only moves forward: a volume discount makes the plain volume amount fall at
 * a bound (1,000 units at 2 = 2,000; 1,001 units at 1.5 = 1,501), but a payer's cumulative vouchers
 * can never go down, so a fall could not be settled. The volume amount is therefore the most the
 * volume rule charges for any quantity up to `billed`: `max(volume(billed), volume(upTo_j))` over the
 * bands `j` below the one reached — "never less for more". The amount jumps up at a bound where the
 * price rises, holds flat after a bound where it falls until the cheaper price catches up, and is
 * still a function of the cumulative quantity alone, so per-note deltas sum exactly to it.
 */
export function rateTiered(
  raw: bigint,
  billed: bigint,
  rate: Pick<Rate, "price" | "per"> & { tiers: RateTiers },
): RateTieredReturnType {
  const bands: { upTo: bigint | null; price: bigint }[] = [
    ...rate.tiers.bands.map((b) => ({ upTo: b.upTo, price: b.price })),
    { upTo: null, price: rate.price },
  ];
  return rate.tiers.mode === "graduated"
    ? graduated(raw, billed, bands, rate.per)
    : volume(raw, billed, bands, rate.per);
}

type Band = { upTo: bigint | null; price: bigint };

/** The part of `q` above `lower` and not above `upTo` (null: no upper bound). */
function inBand(q: bigint, lower: bigint, upTo: bigint | null): bigint {
  if (q <= lower) return 0n;
  return (upTo === null || q < upTo ? q : upTo) - lower;
}

function graduated(raw: bigint, billed: bigint, bands: Band[], per: bigint): RateTieredReturnType {
  const tiers: RatedTier[] = [];
  let amount = 0n;
  let lower = 0n;
  for (const [i, band] of bands.entries()) {
    const billedIn = inBand(billed, lower, band.upTo);
    // Tier 1 is always listed, so a meter with no usage still shows its first price.
    if (billedIn > 0n || i === 0) {
      const bandAmount = (billedIn * band.price) / per;
      tiers.push({
        tier: i + 1,
        upTo: band.upTo,
        quantity: inBand(raw, lower, band.upTo),
        billedQuantity: billedIn,
        price: band.price,
        amount: bandAmount,
        floorFromTier: null,
      });
      amount += bandAmount;
    }
    if (band.upTo === null || billed <= band.upTo) break;
    lower = band.upTo;
  }
  return { amount, tiers };
}

function volume(raw: bigint, billed: bigint, bands: Band[], per: bigint): RateTieredReturnType {
  const reached = bands.findIndex((b) => b.upTo === null || billed <= b.upTo);
  const band = bands[reached] as Band; // the last band has no bound, so one is always reached
  let amount = (billed * band.price) / per;
  let floorFromTier: number | null = null;
  for (let j = 0; j < reached; j++) {
    const lower = bands[j] as Band;
    // A band below the reached one has a bound: the volume charge at its top is upTo × its price.
    const atTop = ((lower.upTo as bigint) * lower.price) / per;
    if (atTop > amount) {
      amount = atTop;
      floorFromTier = j + 1;
    }
  }
  return {
    amount,
    tiers: [
      {
        tier: reached + 1,
        upTo: band.upTo,
        quantity: raw,
        billedQuantity: billed,
        price: band.price,
        amount,
        floorFromTier,
      },
    ],
  };
}
