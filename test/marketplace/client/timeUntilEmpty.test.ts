import { describe, expect, it } from "vitest";
import { timeUntilEmpty } from "../../../marketplace/client/timeUntilEmpty.ts";

const notes = (...pairs: [bigint, number][]) =>
  pairs.map(([jobAmount, elapsedMs]) => ({ jobAmount, elapsedMs }));

describe("timeUntilEmpty", () => {
  it("divides what is left of the budget by the recent burn rate", () => {
    // 100 units per 5 s = 20/s; 1000 − 300 left = 700 → 35 s.
    expect(
      timeUntilEmpty({ notes: notes([100n, 5_000], [200n, 10_000], [300n, 15_000]), budget: 1_000n }),
    ).toBe(35);
  });

  it("measures only the latest notes, so a change of pace shows at once", () => {
    const history = notes([0n, 0], [10n, 10_000], [20n, 20_000], [120n, 21_000], [220n, 22_000]);
    // Over the last two notes: 100 per second; 1220 − 220 = 1000 left → 10 s.
    expect(timeUntilEmpty({ notes: history, budget: 1_220n, window: 2 })).toBe(10);
    // Over all five: 220 in 22 s = 10/s → 100 s.
    expect(timeUntilEmpty({ notes: history, budget: 1_220n, window: 5 })).toBe(100);
  });

  it("is unknown with fewer than two notes, no time between them, or no spending", () => {
    expect(timeUntilEmpty({ notes: [], budget: 10n })).toBeNull();
    expect(timeUntilEmpty({ notes: notes([5n, 1_000]), budget: 10n })).toBeNull();
    expect(timeUntilEmpty({ notes: notes([5n, 1_000], [6n, 1_000]), budget: 10n })).toBeNull();
    expect(timeUntilEmpty({ notes: notes([5n, 1_000], [5n, 9_000]), budget: 10n })).toBeNull();
  });

  it("is 0 once the budget is spent, and exact for huge amounts", () => {
    expect(timeUntilEmpty({ notes: notes([5n, 1_000], [10n, 2_000]), budget: 10n })).toBe(0);
    const grid = 10n ** 18n;
    // 1 GRID per hour, 10 GRID left: 36,000 s.
    expect(
      timeUntilEmpty({ notes: notes([grid, 3_600_000], [2n * grid, 7_200_000]), budget: 12n * grid }),
    ).toBe(36_000);
  });
});
