import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RatingError } from "../../../marketplace/rating/errors.ts";
import { rateUsage } from "../../../marketplace/rating/rateUsage.ts";
import type { Granularity, Rate, RateTiers, TierMode } from "../../../marketplace/rating/types.ts";

const HOUR = 3_600_000n;

/** 10 GPU-hours at 3, the next 90 at 2, then 1 per GPU-hour (base units, to keep sums readable). */
const GRADUATED: Rate = {
  meter: "gpu_ms",
  price: 1_000n,
  per: HOUR,
  tiers: {
    mode: "graduated",
    bands: [
      { upTo: 10n * HOUR, price: 3_000n },
      { upTo: 100n * HOUR, price: 2_000n },
    ],
  },
};
const VOLUME: Rate = { ...GRADUATED, tiers: { ...(GRADUATED.tiers as RateTiers), mode: "volume" } };

describe("tiered rates", () => {
  it("prices each graduated band's share at its own price", () => {
    const rated = rateUsage({ gpu_ms: 150n * HOUR }, [GRADUATED], "ms");
    // 10 × 3000 + 90 × 2000 + 50 × 1000
    expect(rated.total).toBe(260_000n);
    expect(rated.lines[0]?.tiers).toEqual([
      {
        tier: 1,
        upTo: 10n * HOUR,
        quantity: 10n * HOUR,
        billedQuantity: 10n * HOUR,
        price: 3_000n,
        amount: 30_000n,
        floorFromTier: null,
      },
      {
        tier: 2,
        upTo: 100n * HOUR,
        quantity: 90n * HOUR,
        billedQuantity: 90n * HOUR,
        price: 2_000n,
        amount: 180_000n,
        floorFromTier: null,
      },
      {
        tier: 3,
        upTo: null,
        quantity: 50n * HOUR,
        billedQuantity: 50n * HOUR,
        price: 1_000n,
        amount: 50_000n,
        floorFromTier: null,
      },
    ]);
  });

  it("lists only the bands reached, and tier 1 even with no usage", () => {
    expect(rateUsage({ gpu_ms: 10n * HOUR }, [GRADUATED], "ms").lines[0]?.tiers?.map((t) => t.tier)).toEqual([
      1,
    ]);
    const empty = rateUsage({}, [GRADUATED], "ms");
    expect(empty.total).toBe(0n);
    expect(empty.lines[0]?.tiers).toEqual([
      {
        tier: 1,
        upTo: 10n * HOUR,
        quantity: 0n,
        billedQuantity: 0n,
        price: 3_000n,
        amount: 0n,
        floorFromTier: null,
      },
    ]);
  });

  it("prices the whole quantity at the volume tier reached", () => {
    expect(rateUsage({ gpu_ms: 5n * HOUR }, [VOLUME], "ms").total).toBe(15_000n);
    // 150 hours reach the top band: all of them at 1000.
    const top = rateUsage({ gpu_ms: 150n * HOUR }, [VOLUME], "ms");
    expect(top.total).toBe(200_000n); // the top of tier 2 (100 h × 2000) is more than 150 × 1000
    expect(top.lines[0]?.tiers).toEqual([
      {
        tier: 3,
        upTo: null,
        quantity: 150n * HOUR,
        billedQuantity: 150n * HOUR,
        price: 1_000n,
        amount: 200_000n,
        floorFromTier: 2,
      },
    ]);
    expect(rateUsage({ gpu_ms: 250n * HOUR }, [VOLUME], "ms").lines[0]?.tiers?.[0]?.floorFromTier).toBeNull();
  });

  it("never charges less for more under a volume discount: the amount holds at a falling bound", () => {
    const at = (hours: bigint, extraMs = 0n) =>
      rateUsage({ gpu_ms: hours * HOUR + extraMs }, [VOLUME], "ms").total;
    expect(at(10n)).toBe(30_000n); // 10 h × 3000, top of tier 1
    // One more millisecond reaches tier 2 (2000/h): plain volume would bill 20,000; it holds at 30,000.
    expect(at(10n, 1n)).toBe(30_000n);
    expect(at(15n)).toBe(30_000n);
    expect(at(16n)).toBe(32_000n); // 16 × 2000 has caught up
  });

  it("jumps at a bound where the volume price rises (surge tiers), and never falls", () => {
    const surge: Rate = {
      meter: "requests",
      price: 5n,
      per: 1n,
      tiers: { mode: "volume", bands: [{ upTo: 100n, price: 1n }] },
    };
    expect(rateUsage({ requests: 100n }, [surge], "ms").total).toBe(100n);
    expect(rateUsage({ requests: 101n }, [surge], "ms").total).toBe(505n);
  });

  it("rounds time meters up to the granularity before the tiers apply", () => {
    const rate: Rate = {
      meter: "gpu_ms",
      price: 1n,
      per: 1_000n,
      tiers: { mode: "graduated", bands: [{ upTo: 1_500n, price: 10n }] },
    };
    // 1 ms → 1 s billed: 1000 ms in tier 1 (10 per s) = 10; the raw quantity sits in tier 1 too.
    const rated = rateUsage({ gpu_ms: 1n }, [rate], "s");
    expect(rated.total).toBe(10n);
    // 1,501 ms → 2,000 ms: 1,500 in tier 1 (15) + 500 in tier 2 (0.5 → 0).
    const crossing = rateUsage({ gpu_ms: 1_501n }, [rate], "s").lines[0];
    expect(crossing?.tiers?.map((t) => [t.tier, t.quantity, t.billedQuantity, t.amount])).toEqual([
      [1, 1_500n, 1_500n, 15n],
      [2, 1n, 500n, 0n],
    ]);
  });

  it("bills the minimum charge until the rated amount passes it", () => {
    const rates: Rate[] = [{ meter: "gpu_ms", price: 3_600n, per: HOUR }];
    const small = rateUsage({ gpu_ms: 1_000n }, rates, "ms", { minimumCharge: 100n });
    expect(small).toMatchObject({ subtotal: 1n, total: 100n, minimumChargeApplied: true });
    const none = rateUsage({}, rates, "ms", { minimumCharge: 100n });
    expect(none).toMatchObject({ subtotal: 0n, total: 100n, minimumChargeApplied: true });
    const big = rateUsage({ gpu_ms: 200_000n }, rates, "ms", { minimumCharge: 100n });
    expect(big).toMatchObject({ subtotal: 200n, total: 200n, minimumChargeApplied: false });
    expect(() => rateUsage({}, rates, "ms", { minimumCharge: -1n })).toThrow(/minimum charge/);
  });

  it("rejects malformed tiers with clear errors", () => {
    const tiered = (tiers: unknown) => [{ meter: "gpu_ms", price: 1n, per: 1n, tiers } as Rate];
    const bad: [unknown, RegExp][] = [
      [{ mode: "stepped", bands: [{ upTo: 1n, price: 1n }] }, /tier mode must be graduated or volume/],
      [{ mode: "graduated", bands: [] }, /tiers need 1 to 16 bands/],
      [
        {
          mode: "graduated",
          bands: Array.from({ length: 17 }, (_, i) => ({ upTo: BigInt(i + 1), price: 1n })),
        },
        /1 to 16/,
      ],
      [{ mode: "graduated", bands: [{ upTo: 0n, price: 1n }] }, /tier 1: bounds must rise strictly/],
      [
        {
          mode: "volume",
          bands: [
            { upTo: 5n, price: 1n },
            { upTo: 5n, price: 1n },
          ],
        },
        /tier 2: bounds must rise/,
      ],
      [{ mode: "volume", bands: [{ upTo: 5n, price: -1n }] }, /tier 1: price must not be negative/],
      [{ mode: "volume", bands: [{ upTo: 5, price: 1n }] }, /tier 1: upTo and price must be bigint/],
    ];
    for (const [tiers, message] of bad) {
      expect(() => rateUsage({}, tiered(tiers), "ms")).toThrow(RatingError);
      expect(() => rateUsage({}, tiered(tiers), "ms")).toThrow(message);
    }
  });
});

// Arbitraries: a tiered rate on gpu_ms with 1-5 bands, sorted distinct bounds, any prices.
const tiersArb = (mode: TierMode) =>
  fc.uniqueArray(fc.bigInt({ min: 1n, max: 10n ** 9n }), { minLength: 1, maxLength: 5 }).chain((bounds) =>
    fc.record({
      mode: fc.constant(mode),
      bands: fc.tuple(
        ...[...bounds]
          .sort((a, b) => (a < b ? -1 : 1))
          .map((upTo) =>
            fc.record({ upTo: fc.constant(upTo), price: fc.bigInt({ min: 0n, max: 10n ** 21n }) }),
          ),
      ),
    }),
  );
const tieredRateArb = (mode: TierMode) =>
  fc.record({
    meter: fc.constant("gpu_ms" as const),
    price: fc.bigInt({ min: 0n, max: 10n ** 21n }),
    per: fc.bigInt({ min: 1n, max: 10n ** 7n }),
    tiers: tiersArb(mode),
  });
const granularityArb = fc.constantFrom<Granularity>("ms", "s", "min");
const incrementsArb = fc.array(fc.bigInt({ min: 0n, max: 3n * 10n ** 8n }), { minLength: 1, maxLength: 15 });
const minimumArb = fc.option(fc.bigInt({ min: 0n, max: 10n ** 24n }), { nil: undefined });

/** Rates the cumulative quantity after each increment, as debit notes do. */
function notesOf(rate: Rate, granularity: Granularity, increments: bigint[], minimumCharge?: bigint) {
  let q = 0n;
  return increments.map((step) => {
    q += step;
    return rateUsage({ gpu_ms: q }, [rate], granularity, { minimumCharge }).total;
  });
}

describe("tiered rates (properties)", () => {
  it.each(["graduated", "volume"] as const)(
    "%s: per-note deltas sum exactly to the rated cumulative total, and never go negative",
    (mode) => {
      fc.assert(
        fc.property(
          tieredRateArb(mode),
          granularityArb,
          incrementsArb,
          minimumArb,
          (rate, g, increments, min) => {
            const totals = notesOf(rate, g, increments, min);
            let previous = 0n;
            let paid = 0n;
            for (const total of totals) {
              expect(total >= previous).toBe(true);
              paid += total - previous;
              previous = total;
            }
            const q = increments.reduce((a, b) => a + b, 0n);
            expect(paid).toBe(rateUsage({ gpu_ms: q }, [rate], g, { minimumCharge: min }).total);
          },
        ),
      );
    },
  );

  it("graduated: each band is floored by less than one base unit, never over the exact price", () => {
    fc.assert(
      fc.property(
        tieredRateArb("graduated"),
        granularityArb,
        fc.bigInt({ min: 0n, max: 2n ** 40n }),
        (rate, g, q) => {
          const line = rateUsage({ gpu_ms: q }, [rate], g).lines[0];
          if (line?.tiers === undefined) throw new Error("a tiered line has tiers");
          let amount = 0n;
          let billed = 0n;
          let raw = 0n;
          for (const t of line.tiers) {
            const exactTimesPer = t.billedQuantity * t.price;
            expect(t.amount * rate.per <= exactTimesPer).toBe(true);
            expect(exactTimesPer - t.amount * rate.per < rate.per).toBe(true);
            amount += t.amount;
            billed += t.billedQuantity;
            raw += t.quantity;
          }
          expect(line.amount).toBe(amount);
          expect(billed).toBe(line.billedQuantity);
          expect(raw).toBe(q);
          expect(line.billedQuantity >= q).toBe(true);
        },
      ),
    );
  });

  it("volume: the amount is the floored maximum over every smaller quantity (brute force), off by < 1 unit", () => {
    // Small bounds so every quantity up to q can be tried.
    const smallTiers = fc
      .uniqueArray(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 4 })
      .chain((bounds) =>
        fc.record({
          mode: fc.constant("volume" as const),
          bands: fc.tuple(
            ...[...bounds]
              .sort((a, b) => a - b)
              .map((upTo) =>
                fc.record({ upTo: fc.constant(BigInt(upTo)), price: fc.bigInt({ min: 0n, max: 1_000n }) }),
              ),
          ),
        }),
      );
    const rateArb = fc.record({
      meter: fc.constant("requests" as const),
      price: fc.bigInt({ min: 0n, max: 1_000n }),
      per: fc.bigInt({ min: 1n, max: 50n }),
      tiers: smallTiers,
    });
    fc.assert(
      fc.property(rateArb, fc.integer({ min: 0, max: 80 }), (rate, q) => {
        const bands = [...rate.tiers.bands, { upTo: null, price: rate.price }];
        const plain = (n: bigint) => n * (bands.find((b) => b.upTo === null || n <= b.upTo)?.price ?? 0n);
        let best = 0n; // the exact maximum × per
        for (let n = 0n; n <= BigInt(q); n++) if (plain(n) > best) best = plain(n);
        const line = rateUsage({ requests: BigInt(q) }, [rate], "ms").lines[0];
        expect(line?.amount).toBe(best / rate.per);
        const amount = line?.amount ?? 0n;
        expect(amount * rate.per <= best && best - amount * rate.per < rate.per).toBe(true);
      }),
    );
  });

  it("a rate with one band at its own price bills exactly like the flat rate", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<TierMode>("graduated", "volume"),
        fc.bigInt({ min: 1n, max: 10n ** 9n }),
        fc.bigInt({ min: 0n, max: 10n ** 21n }),
        fc.bigInt({ min: 1n, max: 10n ** 7n }),
        fc.bigInt({ min: 0n, max: 10n ** 10n }),
        granularityArb,
        (mode, upTo, price, per, q, g) => {
          const flat: Rate = { meter: "gpu_ms", price, per };
          const tiered: Rate = { ...flat, tiers: { mode, bands: [{ upTo, price }] } };
          const a = rateUsage({ gpu_ms: q }, [flat], g).total;
          const b = rateUsage({ gpu_ms: q }, [tiered], g).total;
          // Graduated floors per band, so it may lose one more unit than the flat rate, never gain.
          expect(b <= a && a - b <= (mode === "graduated" ? 1n : 0n)).toBe(true);
        },
      ),
    );
  });
});
