import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RatingError } from "../../../marketplace/rating/errors.ts";
import { roundUpToGranularity } from "../../../marketplace/rating/roundUpToGranularity.ts";

describe("roundUpToGranularity", () => {
  it("rounds up to whole seconds and minutes", () => {
    expect(roundUpToGranularity(0n, "s")).toBe(0n);
    expect(roundUpToGranularity(1n, "s")).toBe(1_000n);
    expect(roundUpToGranularity(1_000n, "s")).toBe(1_000n);
    expect(roundUpToGranularity(1_001n, "s")).toBe(2_000n);
    expect(roundUpToGranularity(59_999n, "min")).toBe(60_000n);
    expect(roundUpToGranularity(60_001n, "min")).toBe(120_000n);
    expect(roundUpToGranularity(1_234n, "ms")).toBe(1_234n);
  });

  it("rejects negative quantities and unknown granularities", () => {
    expect(() => roundUpToGranularity(-1n, "s")).toThrow(RatingError);
    expect(() => roundUpToGranularity(1n, "h" as "s")).toThrow(/unknown granularity "h"/);
  });

  it("is the smallest multiple of the unit that is not below the quantity", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 80n }), fc.constantFrom("ms", "s", "min"), (q, g) => {
        const unit = { ms: 1n, s: 1_000n, min: 60_000n }[g];
        const r = roundUpToGranularity(q, g);
        expect(r % unit).toBe(0n);
        expect(r >= q).toBe(true);
        expect(r - q < unit).toBe(true);
      }),
    );
  });
});
