import { describe, expect, it } from "vitest";
import { listOffers, pricePer } from "../../../marketplace/offer/listOffers.ts";
import { A100, addr, entryOf, GRID, H100, HOUR_MS, offerOf } from "../order/offers.ts";

describe("listOffers", () => {
  const entries = [
    entryOf(
      offerOf(addr(2), {
        gpus: [
          { class: H100, count: 2, free: 1, price: 3n * GRID },
          { class: A100, count: 4, free: 4, price: GRID },
        ],
        cpuCores: 32,
        freeCpuCores: 30,
      }),
      1_000,
    ),
    entryOf(
      offerOf(addr(1), { cpuCores: 8, memMiB: 16_384, cpuHour: GRID / 10n, memGiBHour: undefined }),
      2_000,
    ),
  ];

  it("shows one row per provider and GPU class, and one for a provider without GPUs", () => {
    const rows = listOffers(entries);
    expect(rows.map((r) => [r.provider, r.gpuClass, r.gpusFree, r.gpusTotal, r.gpuHour])).toEqual([
      [addr(1), null, 0, 0, null],
      [addr(2), A100, 4, 4, GRID],
      [addr(2), H100, 1, 2, 3n * GRID],
    ]);
    expect(rows[0]).toMatchObject({
      cpuCores: 8,
      cpuCoreHour: GRID / 10n,
      memGiBHour: null,
      memMiB: 16_384,
      receivedAt: 2_000,
    });
    expect(rows[1]).toMatchObject({ cpuCoresFree: 30, cpuCores: 32, memGiBHour: GRID / 200n });
  });

  it("keeps only the class asked for", () => {
    expect(listOffers(entries, { gpuClass: H100 }).map((r) => r.gpuClass)).toEqual([H100]);
    expect(listOffers(entries, { gpuClass: "nvidia-l4-24gb" })).toEqual([]);
  });

  it("converts a rate to the price of an hour (or GiB-hour), rounding down", () => {
    expect(pricePer({ meter: "gpu_ms", price: 1n, per: 7n }, HOUR_MS)).toBe(514_285n);
    expect(pricePer({ meter: "mem_mib_ms", price: 5n, per: HOUR_MS * 1024n }, HOUR_MS * 1024n)).toBe(5n);
    expect(pricePer(undefined, HOUR_MS)).toBeNull();
  });
});
