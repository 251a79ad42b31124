import type { Rate } from "../messages/primitives.ts";
import type { BookEntry } from "../offer/offerBook.ts";
import { HOUR_MS } from "../rating/constants.ts";
import { buildPriceTree, type PriceTree } from "./priceTree.ts";

/**
 * A flat rate with `price × 1 h` precomputed: q units for an hour cost ⌊q·hourPrice / per⌋, which
 * is q·unit exactly when `per` divides `hourPrice` (the usual case: one multiplication, no division).
 */
export type PricedRate = { rate: Rate; hourPrice: bigint; per: bigint; unit: bigint | undefined };

/** One way an offer can serve orders: one of its GPU classes, or its CPUs alone. */
export type Slot = {
  entry: BookEntry;
  provider: `0x${string}`;
  /** Lower-cased address: the last, deterministic tie-break. */
  key: string;
  /** The same address as a small integer, for the matcher's per-provider bookkeeping. */
  providerId: number;
  gpuClass: string | undefined;
  freeGpus: number;
  vramMiB: number;
  freeCpuCores: number;
  freeMemMiB: number;
  maxDurationS: number;
  gpu: PricedRate | undefined;
  cpu: PricedRate | undefined;
  mem: PricedRate | undefined;
  /**
   * Price of one unit for an hour (`price × 1 h / per`) as a double, 0 for a missing rate. Within
   * a few parts in 10¹⁵ of the exact fraction: the matcher prunes with these and decides exactly.
   */
  gpuNum: number;
  cpuNum: number;
  memNum: number;
  /** A rate with volume tiers: its cost has no per-unit price, so such slots are checked one by one. */
  tiered: boolean;
  /** The job's rates here, built once. */
  jobRates: Rate[] | undefined;
};

/**
 * The slots of one kind of order: trees of the flat-rate slots by price (one per rung of free GPU
 * counts), and the tiered slots, which are checked one by one.
 */
export type Shelf = {
  /** `trees[i]` holds the slots with at least `rungs[i]` free GPUs; rungs ascend (1, 2, 4, 8, …). */
  rungs: number[];
  trees: PriceTree[];
  tiered: Slot[];
};

/**
 * The book indexed for matching: a shelf per GPU class, one of every class together (orders that
 * name no class) and one of every offer's CPUs (CPU-only orders).
 */
export type OfferIndex = {
  byClass: Map<string, Shelf>;
  anyGpu: Shelf;
  cpu: Shelf;
  /** Offers indexed. */
  size: number;
  /** Distinct providers: their ids are 0 … providers − 1. */
  providers: number;
};

/** Builds the index once per book snapshot; `matchOrder` then answers each order in microseconds. */
export function createOfferIndex(entries: readonly BookEntry[]): OfferIndex {
  const byClass = new Map<string, Slot[]>();
  const anyGpu: Slot[] = [];
  const cpu: Slot[] = [];
  const providerIds = new Map<string, number>();
  for (const entry of entries) {
    const { offer } = entry;
    const key = offer.provider.toLowerCase();
    let providerId = providerIds.get(key);
    if (providerId === undefined) {
      providerId = providerIds.size;
      providerIds.set(key, providerId);
    }
    const cpuRate = priced(offer.rates.find((r) => r.meter === "cpu_core_ms"));
    const memRate = priced(offer.rates.find((r) => r.meter === "mem_mib_ms"));
    const slotOf = (
      gpuClass: string | undefined,
      freeGpus: number,
      vramMiB: number,
      gpu: PricedRate | undefined,
    ) => ({
      entry,
      provider: offer.provider as `0x${string}`,
      key,
      providerId: providerId as number,
      gpuClass,
      freeGpus,
      vramMiB,
      freeCpuCores: offer.freeCpuCores,
      freeMemMiB: offer.freeMemMiB,
      maxDurationS: offer.maxDurationS,
      gpu,
      cpu: cpuRate,
      mem: memRate,
      gpuNum: unitNum(gpu),
      cpuNum: unitNum(cpuRate),
      memNum: unitNum(memRate),
      tiered: [gpu, cpuRate, memRate].some((p) => p?.rate.tiers !== undefined),
      jobRates: undefined,
    });
    cpu.push(slotOf(undefined, 0, 0, undefined));
    for (const resource of offer.resources) {
      const gpuRate = offer.rates.find((r) => r.meter === "gpu_ms" && r.gpuClass === resource.class);
      // A class without a price is not for sale: a job there would have no GPU rate to pay.
      if (gpuRate === undefined || resource.free === 0) continue;
      const slot = slotOf(resource.class, resource.free, resource.vramMiB, priced(gpuRate));
      anyGpu.push(slot);
      const slots = byClass.get(resource.class) ?? [];
      slots.push(slot);
      byClass.set(resource.class, slots);
    }
  }
  return {
    byClass: new Map([...byClass].map(([cls, slots]) => [cls, shelf(slots, true)])),
    anyGpu: shelf(anyGpu, true),
    cpu: shelf(cpu, false),
    size: entries.length,
    providers: providerIds.size,
  };
}

/** The tree to search for an order of `gpus` GPUs: the highest rung not above it (undefined: none). */
export function treeFor(shelf: Shelf, gpus: number): PriceTree | undefined {
  let found: PriceTree | undefined;
  for (let i = 0; i < shelf.rungs.length && (shelf.rungs[i] as number) <= gpus; i++) found = shelf.trees[i];
  return found;
}

// Rungs of free GPU counts: an order for n GPUs searches the tree of the highest rung ≤ n, which
// leaves out every slot with fewer than that rung; the rest are checked one by one. Powers of two
// keep the trees few (a slot is in at most log₂(free)+1 of them) whatever the GPU counts are.
function shelf(slots: readonly Slot[], byGpus: boolean): Shelf {
  const flat = slots.filter((s) => !s.tiered);
  const tiered = slots.filter((s) => s.tiered);
  if (!byGpus) return { rungs: [0], trees: [buildPriceTree(flat)], tiered };
  const rungs: number[] = [];
  const trees: PriceTree[] = [];
  for (let rung = 1; flat.some((s) => s.freeGpus >= rung); rung *= 2) {
    rungs.push(rung);
    trees.push(buildPriceTree(flat.filter((s) => s.freeGpus >= rung)));
  }
  return { rungs, trees, tiered };
}

function priced(rate: Rate | undefined): PricedRate | undefined {
  if (rate === undefined) return undefined;
  const hourPrice = rate.price * HOUR_MS;
  return {
    rate,
    hourPrice,
    per: rate.per,
    unit: hourPrice % rate.per === 0n ? hourPrice / rate.per : undefined,
  };
}

/** `price × 1 h / per` as a double; 0 for a missing rate (it costs nothing). */
function unitNum(rate: PricedRate | undefined): number {
  return rate === undefined ? 0 : hourPriceNum(rate.rate);
}

/** A rate's price of one unit for an hour (`price × 1 h / per`) as a double, a few ulps off exact. */
export function hourPriceNum(rate: Rate): number {
  return (Number(rate.price) * 3_600_000) / Number(rate.per);
}
