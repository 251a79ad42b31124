import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RatingError } from "../../../marketplace/rating/errors.ts";
import { METERS, type Meter } from "../../../marketplace/rating/meters.ts";
import { rateUsage } from "../../../marketplace/rating/rateUsage.ts";
import type { Granularity, Rate } from "../../../marketplace/rating/types.ts";

const GPU_HOUR = 3_600_000n;
const TOKEN = 10n ** 18n;

const granularityArb = fc.constantFrom<Granularity>("ms", "s", "min");
const rateArb = (meter: Meter) =>
  fc.record({
    meter: fc.constant(meter),
    price: fc.bigInt({ min: 0n, max: 10n ** 24n }),
    per: fc.bigInt({ min: 1n, max: 10n ** 9n }),
  });
const ratesArb = fc
  .subarray([...METERS], { minLength: 1 })
  .chain((meters) => fc.tuple(...meters.map((m) => rateArb(m))));

describe("rateUsage", () => {
  it("prices a GPU-hour at the hourly rate and rounds the fraction down", () => {
    const rates: Rate[] = [{ meter: "gpu_ms", price: 2n * TOKEN, per: GPU_HOUR }];
    const oneHour = rateUsage({ gpu_ms: GPU_HOUR }, rates, "ms");
    expect(oneHour.total).toBe(2n * TOKEN);
    expect(oneHour.lines).toEqual([
      {
        meter: "gpu_ms",
        quantity: GPU_HOUR,
        billedQuantity: GPU_HOUR,
        price: 2n * TOKEN,
        per: GPU_HOUR,
        amount: 2n * TOKEN,
      },
    ]);
    // 1 ms at 3 base units per 2 ms = 1.5 → 1 (payer's favour).
    expect(rateUsage({ gpu_ms: 1n }, [{ meter: "gpu_ms", price: 3n, per: 2n }], "ms").total).toBe(1n);
  });

  it("rounds time meters up to the granularity but never counts", () => {
    const rates: Rate[] = [
      { meter: "gpu_ms", price: 60_000n, per: 60_000n },
      { meter: "requests", price: 5n, per: 1n },
    ];
    const rated = rateUsage({ gpu_ms: 1n, requests: 3n }, rates, "min");
    expect(rated.lines.map((l) => [l.meter, l.billedQuantity, l.amount])).toEqual([
      ["gpu_ms", 60_000n, 60_000n],
      ["requests", 3n, 15n],
    ]);
    expect(rated.total).toBe(60_015n);
  });

  it("reports meters without a rate and bills nothing for them", () => {
    const rated = rateUsage(
      { gpu_ms: 10n, tokens: 99n, weird_meter: 7n },
      [{ meter: "gpu_ms", price: 1n, per: 1n }],
      "ms",
    );
    expect(rated.total).toBe(10n);
    expect(rated.unrated).toEqual([
      { meter: "tokens", quantity: 99n },
      { meter: "weird_meter", quantity: 7n },
    ]);
  });

  it("gives a zero line for a rated meter with no usage", () => {
    const rated = rateUsage({}, [{ meter: "egress_bytes", price: 1n, per: 1n }], "s");
    expect(rated.lines[0]?.amount).toBe(0n);
    expect(rated.total).toBe(0n);
  });

  it("rejects bad rates and usage with clear errors", () => {
    const ok: Rate = { meter: "gpu_ms", price: 1n, per: 1n };
    expect(() => rateUsage({}, [{ ...ok, per: 0n }], "ms")).toThrow(/per must be positive/);
    expect(() => rateUsage({}, [{ ...ok, per: -5n }], "ms")).toThrow(RatingError);
    expect(() => rateUsage({}, [{ ...ok, price: -1n }], "ms")).toThrow(/price must not be negative/);
    expect(() => rateUsage({}, [ok, ok], "ms")).toThrow(/two rates for meter "gpu_ms"/);
    expect(() => rateUsage({}, [{ ...ok, meter: "disk_ms" as Meter }], "ms")).toThrow(
      /unknown meter "disk_ms"/,
    );
    expect(() => rateUsage({ gpu_ms: -1n }, [ok], "ms")).toThrow(/must not be negative/);
    expect(() => rateUsage({ gpu_ms: 1 as unknown as bigint }, [ok], "ms")).toThrow(/must be a bigint/);
  });

  it("sums debit-note deltas to the final amount, monotonically (property)", () => {
    fc.assert(
      fc.property(
        ratesArb,
        granularityArb,
        fc.array(fc.array(fc.bigInt({ min: 0n, max: 10n ** 12n }), { minLength: 6, maxLength: 6 }), {
          minLength: 1,
          maxLength: 12,
        }),
        (rates, granularity, increments) => {
          const cumulative: Record<string, bigint> = {};
          let previous = 0n;
          let paid = 0n;
          for (const step of increments) {
            METERS.forEach((m, i) => {
              cumulative[m] = (cumulative[m] ?? 0n) + (step[i] ?? 0n);
            });
            const now = rateUsage(cumulative, rates, granularity).total;
            expect(now >= previous).toBe(true);
            paid += now - previous;
            previous = now;
          }
          expect(paid).toBe(rateUsage(cumulative, rates, granularity).total);
        },
      ),
    );
  });

  it("rounds each line down by less than one base unit of the exact amount (property)", () => {
    fc.assert(
      fc.property(
        ratesArb,
        granularityArb,
        fc.array(fc.bigInt({ min: 0n, max: 2n ** 70n }), { minLength: 6, maxLength: 6 }),
        (rates, granularity, quantities) => {
          const totals = Object.fromEntries(METERS.map((m, i) => [m, quantities[i] ?? 0n]));
          const rated = rateUsage(totals, rates, granularity);
          let total = 0n;
          for (const line of rated.lines) {
            const exactTimesPer = line.billedQuantity * line.price;
            // amount ≤ exact (payer never overpays) and exact − amount < 1 base unit.
            expect(line.amount * line.per <= exactTimesPer).toBe(true);
            expect(exactTimesPer - line.amount * line.per < line.per).toBe(true);
            expect(line.billedQuantity >= line.quantity).toBe(true);
            total += line.amount;
          }
          expect(rated.total).toBe(total);
        },
      ),
    );
  });
});
