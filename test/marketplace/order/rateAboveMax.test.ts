import { describe, expect, it } from "vitest";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import { rateAboveMax, rateAtMost } from "../../../marketplace/order/rateAboveMax.ts";
import { GRID, H100, HOUR_MS, RATES } from "../messages/fixtures.ts";

const gpuRate = (price: bigint, per = HOUR_MS): Rate => ({ meter: "gpu_ms", price, per });

describe("rateAtMost / rateAboveMax", () => {
  it("compares price per unit by cross-multiplying, with no rounding", () => {
    // 1/3 vs 333333/1000000: the first is larger by 1/3000000.
    expect(rateAtMost(gpuRate(1n, 3n), gpuRate(333_333n, 1_000_000n))).toBe(false);
    expect(rateAtMost(gpuRate(333_333n, 1_000_000n), gpuRate(1n, 3n))).toBe(true);
    // Equal prices quoted per different units.
    expect(rateAtMost(gpuRate(2n, HOUR_MS), gpuRate(1n, HOUR_MS / 2n))).toBe(true);
    expect(rateAtMost(gpuRate(2n * GRID + 1n, HOUR_MS), gpuRate(2n * GRID, HOUR_MS))).toBe(false);
  });

  it("finds the first rate above the maximum of its meter", () => {
    const max = [gpuRate(2n * GRID)];
    expect(rateAboveMax([gpuRate(2n * GRID)], max)).toBeUndefined();
    const over = gpuRate(2n * GRID + 1n);
    expect(rateAboveMax([{ meter: "cpu_core_ms", price: 100n * GRID, per: 1n }, over], max)).toEqual({
      rate: over,
      max: max[0],
    });
  });

  it("leaves meters without a maximum unlimited", () => {
    expect(
      rateAboveMax([{ meter: "cpu_core_ms", price: 10n ** 40n, per: 1n }], [gpuRate(1n)]),
    ).toBeUndefined();
    expect(rateAboveMax(RATES, [])).toBeUndefined();
  });

  it("applies a class-specific maximum only to rates of that class (or of no class)", () => {
    const max = [{ ...gpuRate(GRID), gpuClass: H100 }];
    expect(rateAboveMax([{ ...gpuRate(5n * GRID), gpuClass: "nvidia-a100-40gb" }], max)).toBeUndefined();
    expect(rateAboveMax([{ ...gpuRate(5n * GRID), gpuClass: H100 }], max)).toBeDefined();
    expect(rateAboveMax([gpuRate(5n * GRID)], max)).toBeDefined();
  });
});
