import { describe, expect, it } from "vitest";
import { billableGpuMs } from "../../../marketplace/endpoint/billableGpuMs.ts";
import { RatingError } from "../../../marketplace/rating/errors.ts";

describe("billableGpuMs", () => {
  it("bills a 200 ms answer, one request at a time, 200 ms at ms, 1 s at s and 60 s at min", () => {
    const periods = [200n, 200n, 200n];
    expect(billableGpuMs(periods, { granularity: "ms" })).toBe(600n);
    expect(billableGpuMs(periods, { granularity: "s" })).toBe(3_000n);
    expect(billableGpuMs(periods, { granularity: "min" })).toBe(180_000n);
  });

  it("rounds each period up on its own, never the sum", () => {
    // 1 ms + 1 ms is two partial seconds, so two seconds: rounding the sum would give one.
    expect(billableGpuMs([1n, 1n], { granularity: "s" })).toBe(2_000n);
    expect(billableGpuMs([1_000n, 1_001n], { granularity: "s" })).toBe(3_000n);
    expect(billableGpuMs([60_000n], { granularity: "min" })).toBe(60_000n);
    expect(billableGpuMs([0n], { granularity: "min" })).toBe(0n);
  });

  it("is additive: billing periods one by one gives the total", () => {
    const periods = [3n, 999n, 1_000n, 61_234n, 7n];
    for (const granularity of ["ms", "s", "min"] as const) {
      const oneByOne = periods.reduce((sum, p) => sum + billableGpuMs([p], { granularity }), 0n);
      expect(oneByOne).toBe(billableGpuMs(periods, { granularity }));
    }
  });

  it("multiplies by the GPUs a replica holds", () => {
    expect(billableGpuMs([200n], { granularity: "s", gpus: 4n })).toBe(4_000n);
  });

  it("refuses a negative period with the rating rule's own error", () => {
    expect(() => billableGpuMs([-1n], { granularity: "ms" })).toThrow(RatingError);
  });
});
