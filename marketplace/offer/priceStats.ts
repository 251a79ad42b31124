import { HOUR_MS } from "../rating/constants.ts";
import type { BookEntry } from "./offerBook.ts";

export type ClassPrices = {
  gpuClass: string;
  providers: number;
  freeGpus: number;
  totalGpus: number;
  /** Per GPU-hour, token base units. */
  min: bigint;
  median: bigint;
  max: bigint;
};

/** Per GPU class: how many providers and free GPUs, and the min / median / max GPU-hour price. */
export function priceStats(entries: readonly BookEntry[]): ClassPrices[] {
  const byClass = new Map<string, { prices: bigint[]; free: number; total: number }>();
  for (const { offer } of entries) {
    for (const resource of offer.resources) {
      const rate = offer.rates.find((r) => r.meter === "gpu_ms" && r.gpuClass === resource.class);
      if (rate === undefined) continue;
      const c = byClass.get(resource.class) ?? { prices: [], free: 0, total: 0 };
      c.prices.push((rate.price * HOUR_MS) / rate.per);
      c.free += resource.free;
      c.total += resource.count;
      byClass.set(resource.class, c);
    }
  }
  return [...byClass]
    .map(([gpuClass, c]) => {
      const sorted = c.prices.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      // Lower median for an even count: a quote a submitter can get, never an average nobody offers.
      const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? 0n;
      return {
        gpuClass,
        providers: sorted.length,
        freeGpus: c.free,
        totalGpus: c.total,
        min: sorted[0] ?? 0n,
        median,
        max: sorted.at(-1) ?? 0n,
      };
    })
    .sort((a, b) => (a.gpuClass < b.gpuClass ? -1 : 1));
}
