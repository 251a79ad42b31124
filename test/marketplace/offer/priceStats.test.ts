import { describe, expect, it } from "vitest";
import { priceStats } from "../../../marketplace/offer/priceStats.ts";
import { A100, addr, entryOf, GRID, H100, HOUR_MS, offerOf } from "../order/offers.ts";

describe("priceStats", () => {
  it("gives per class the providers, free and total GPUs, and min / lower median / max GPU-hour price", () => {
    const entries = [
      entryOf(offerOf(addr(1), { gpus: [{ class: H100, count: 2, free: 1, price: 4n * GRID }] })),
      entryOf(offerOf(addr(2), { gpus: [{ class: H100, count: 8, free: 8, price: 2n * GRID }] })),
      entryOf(offerOf(addr(3), { gpus: [{ class: H100, count: 1, free: 0, price: 3n * GRID }] })),
      entryOf(offerOf(addr(4), { gpus: [{ class: H100, count: 1, free: 1, price: 5n * GRID }] })),
      // Priced per millisecond: 10^12 per ms is 3.6 GRID per hour.
      entryOf(offerOf(addr(5), { gpus: [{ class: A100, count: 4, free: 2, price: 10n ** 12n, per: 1n }] })),
      entryOf(offerOf(addr(6), { cpuCores: 8 })),
    ];
    expect(priceStats(entries)).toEqual([
      {
        gpuClass: A100,
        providers: 1,
        freeGpus: 2,
        totalGpus: 4,
        min: (36n * GRID) / 10n,
        median: (36n * GRID) / 10n,
        max: (36n * GRID) / 10n,
      },
      {
        gpuClass: H100,
        providers: 4,
        freeGpus: 10,
        totalGpus: 12,
        min: 2n * GRID,
        median: 3n * GRID,
        max: 5n * GRID,
      },
    ]);
  });

  it("leaves out a class without a price, and is empty for no offers", () => {
    const unpriced = offerOf(addr(1), { gpus: [{ class: H100, count: 2 }] });
    expect(priceStats([entryOf(unpriced)])).toEqual([]);
    expect(priceStats([])).toEqual([]);
    expect(HOUR_MS).toBe(3_600_000n);
  });
});
