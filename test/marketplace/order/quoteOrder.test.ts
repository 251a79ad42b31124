import { describe, expect, it } from "vitest";
import { quoteOrder } from "../../../marketplace/order/quoteOrder.ts";
import { A100, addr, entryOf, GRID, H100, HOUR_MS, offerOf, T4 } from "./offers.ts";

const book = [
  entryOf(
    offerOf(addr(1), { gpus: [{ class: H100, count: 2, price: 3n * GRID }], cpuHour: 0n, memGiBHour: 0n }),
  ),
  entryOf(offerOf(addr(2), { gpus: [{ class: H100, count: 2, free: 0, price: GRID }] })),
  entryOf(
    offerOf(addr(3), { gpus: [{ class: A100, count: 8, price: 2n * GRID }], cpuHour: 0n, memGiBHour: 0n }),
  ),
  entryOf(offerOf(addr(4), { gpus: [{ class: T4, count: 1, price: GRID / 10n }] })),
  entryOf(offerOf(addr(5), { cpuCores: 64 })),
];
const requirements = { gpus: 2, cpuCores: 1, memMiB: 1024, maxDurationS: 7200 };

describe("quoteOrder", () => {
  it("quotes the cheapest fitting offer per hour and for the maximum duration, and counts the rest", () => {
    const quote = quoteOrder(book, requirements, []);
    expect(quote.offers).toBe(5);
    expect(quote.providers).toBe(2);
    expect(quote.cheapest).toEqual({
      provider: addr(3),
      gpuClass: A100,
      rates: [
        { meter: "gpu_ms", price: 2n * GRID, per: HOUR_MS },
        { meter: "cpu_core_ms", price: 0n, per: HOUR_MS },
        { meter: "mem_mib_ms", price: 0n, per: HOUR_MS * 1024n },
      ],
      hourlyCost: 4n * GRID,
      maxDurationCost: 8n * GRID,
    });
    expect(quote.best.map((m) => m.provider)).toEqual([addr(3), addr(1)]);
    // addr(2)'s H100s are busy; addr(4) has one T4; addr(5) has no GPU.
    expect(quote.misfits).toEqual([
      { reason: "gpu-class", count: 2 },
      { reason: "no-capacity", count: 1 },
    ]);
  });

  it("keeps to the maximum price and says how many offers it left out for it", () => {
    const quote = quoteOrder(book, { ...requirements, gpuClass: H100 }, [
      { meter: "gpu_ms", price: 2n * GRID, per: HOUR_MS },
    ]);
    expect(quote.cheapest).toBeNull();
    expect(quote.providers).toBe(0);
    expect(quote.misfits).toContainEqual({ reason: "price-above-max", count: 1 });
    expect(quote.misfits).toContainEqual({ reason: "no-capacity", count: 1 });
  });

  it("quotes nothing from an empty book", () => {
    expect(quoteOrder([], requirements, [])).toEqual({
      offers: 0,
      providers: 0,
      cheapest: null,
      best: [],
      misfits: [],
    });
  });
});
