import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nextPrice, type PriceCurve } from "../../../node/pricing/nextPrice.ts";

const GRID = 10n ** 18n;
const curve: PriceCurve = {
  base: 2n * GRID,
  floor: GRID,
  ceiling: 4n * GRID,
  targetUtilizationBps: 7_000,
  maxStepBps: 1_250,
};
const quiet = { utilizationBps: 7_000, turnedAway: 0, lostOnPrice: 0 };

describe("nextPrice", () => {
  it("holds the price at the target utilization with nothing else going on", () => {
    expect(nextPrice(2n * GRID, curve, quiet)).toBe(2n * GRID);
  });

  it("rises with utilization above the target, by the full step when everything is busy", () => {
    expect(nextPrice(2n * GRID, curve, { ...quiet, utilizationBps: 10_000 })).toBe(
      (2n * GRID * 11_250n) / 10_000n,
    );
    // Halfway between target and full: half the step.
    expect(nextPrice(2n * GRID, curve, { ...quiet, utilizationBps: 8_500 })).toBe(
      2n * GRID + (2n * GRID * 625n) / 10_000n,
    );
  });

  it("falls with utilization below the target, by the full step when idle", () => {
    expect(nextPrice(2n * GRID, curve, { ...quiet, utilizationBps: 0 })).toBe((2n * GRID * 8_750n) / 10_000n);
    expect(nextPrice(2n * GRID, curve, { ...quiet, utilizationBps: 3_500 })).toBe(
      2n * GRID - (2n * GRID * 625n) / 10_000n,
    );
  });

  it("rises by the full step when orders were turned away, whatever the utilization", () => {
    expect(nextPrice(2n * GRID, curve, { ...quiet, utilizationBps: 0, turnedAway: 1 })).toBe(
      (2n * GRID * 11_250n) / 10_000n,
    );
  });

  it("falls by the full step when bids were lost on price at or below the target", () => {
    expect(nextPrice(2n * GRID, curve, { ...quiet, lostOnPrice: 3 })).toBe((2n * GRID * 8_750n) / 10_000n);
    // Above target a lost bid is just a busy node's price: utilization decides.
    expect(nextPrice(2n * GRID, curve, { ...quiet, utilizationBps: 10_000, lostOnPrice: 3 })).toBeGreaterThan(
      2n * GRID,
    );
  });

  it("stops at the floor and the ceiling", () => {
    expect(nextPrice(GRID, curve, { ...quiet, utilizationBps: 0 })).toBe(GRID);
    expect(nextPrice(4n * GRID, curve, { ...quiet, turnedAway: 1 })).toBe(4n * GRID);
    expect(nextPrice(GRID + 1n, curve, { ...quiet, utilizationBps: 0 })).toBe(GRID);
  });

  it("never leaves [floor, ceiling] and never moves more than maxStep, over any signals", () => {
    const arbCurve = fc
      .tuple(
        fc.bigInt({ min: 1n, max: 10n ** 24n }),
        fc.bigInt({ min: 0n, max: 10n ** 24n }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 1, max: 10_000 }),
      )
      .map(
        ([floor, span, target, step]): PriceCurve => ({
          base: floor,
          floor,
          ceiling: floor + span,
          targetUtilizationBps: target,
          maxStepBps: step,
        }),
      );
    const signals = fc.record({
      utilizationBps: fc.integer({ min: -100, max: 20_000 }),
      turnedAway: fc.nat(5),
      lostOnPrice: fc.nat(5),
    });
    fc.assert(
      fc.property(
        arbCurve,
        fc.bigInt({ min: 0n, max: 10n ** 24n }),
        fc.array(signals, { maxLength: 30 }),
        (c, seed, epochs) => {
          let price = c.floor + (seed % (c.ceiling - c.floor + 1n));
          for (const s of epochs) {
            const next = nextPrice(price, c, s);
            expect(next).toBeGreaterThanOrEqual(c.floor);
            expect(next).toBeLessThanOrEqual(c.ceiling);
            const moved = next > price ? next - price : price - next;
            expect(moved * 10_000n).toBeLessThanOrEqual(price * BigInt(c.maxStepBps));
            price = next;
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
