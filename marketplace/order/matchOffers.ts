import type { Requirements } from "../messages/order.ts";
import type { Rate } from "../messages/primitives.ts";
import type { BookEntry } from "../offer/offerBook.ts";
import { HOUR_MS } from "../rating/constants.ts";
import { estimateCost } from "./estimateCost.ts";
import {
  createOfferIndex,
  hourPriceNum,
  type OfferIndex,
  type PricedRate,
  type Slot,
  treeFor,
} from "./offerIndex.ts";
import { searchPriceTree, type TreeQuery } from "./priceTree.ts";
import { rateAtMost } from "./rateAboveMax.ts";
import { Shortlist } from "./shortlist.ts";

// Matching runs to completion, one order at a time: one shortlist serves them all.
const SHORTLIST = new Shortlist();

/** What an order asks of the market: the resources, and the most it pays per meter. */
export type OfferOrder = { requirements: Requirements; maxRates: readonly Rate[] };

/** An offer that could take an order now, with what the order would pay there. */
export type OfferMatch = {
  entry: BookEntry;
  provider: `0x${string}`;
  /** The GPU class the job would get; undefined for a CPU-only order. */
  gpuClass: string | undefined;
  /** The rates that would apply: the class's gpu_ms rate (without its class tag), CPU, memory. */
  rates: Rate[];
  /** Cost of one hour of the full requirements (all GPUs, cores and memory busy), base units. */
  hourlyCost: bigint;
};

export type MatchOrderOptions = {
  /** How many matches to return, best first; default 10. `Infinity` returns every fitting offer. */
  limit?: number;
};

/**
 * The offers that could take `order` now, best first: the lowest cost of an hour of the full
 * requirements, then the provider address. An offer fits when it has the GPUs (of the named class,
 * or of any class), the VRAM, the free cores and memory and a long enough maximum duration, and none
 * of its applicable rates is above the order's maximum for that meter (compared exactly, as the
 * provider's bid engine does). When the order names no class, each provider appears once, with its
 * cheapest fitting class. Prices are compared as exact fractions; costs are the floored amounts
 * `estimateCost` gives.
 *
 * How: the shelf of the order's kind (its class, any class, or CPUs) holds price trees by free GPU
 * count; the tree for the order's count is searched cheapest-first (`searchPriceTree`) with cost
 * figures in doubles, and the few candidates left are costed and ranked exactly (`Shortlist`).
 * Tiered offers have no unit price to prune by and are costed one by one.
 */
export function matchOrder(
  index: OfferIndex,
  order: OfferOrder,
  options: MatchOrderOptions = {},
): OfferMatch[] {
  const limit = options.limit ?? 10;
  if (limit <= 0) return [];
  const r = order.requirements;
  const shelf =
    r.gpus === 0 ? index.cpu : r.gpuClass === undefined ? index.anyGpu : index.byClass.get(r.gpuClass);
  if (shelf === undefined) return [];
  const maxima = splitMaxima(order.maxRates, r.gpus > 0);
  const list = SHORTLIST;
  list.reset(limit, index.providers);
  for (const slot of shelf.tiered) {
    if (fits(slot, r) && withinCaps(slot, maxima))
      list.addExact(slot, estimateCost(jobRates(slot), r, HOUR_MS));
  }
  const tree = treeFor(shelf, r.gpus);
  if (tree !== undefined) searchPriceTree(tree, treeQuery(r, maxima), list);
  const gpus = BigInt(r.gpus);
  const cores = BigInt(r.cpuCores);
  const mem = BigInt(r.memMiB);
  return list
    .ranked((slot) => hourCost(slot.gpu, gpus) + hourCost(slot.cpu, cores) + hourCost(slot.mem, mem))
    .map(({ slot, cost }) => ({
      entry: slot.entry,
      provider: slot.provider,
      gpuClass: slot.gpuClass,
      rates: jobRates(slot),
      hourlyCost: cost,
    }));
}

/** Every offer in `entries` that fits, best first (see `matchOrder`). */
export function matchOffers(
  entries: readonly BookEntry[],
  requirements: Requirements,
  maxRates: readonly Rate[],
): OfferMatch[] {
  return matchOrder(
    createOfferIndex(entries),
    { requirements, maxRates },
    { limit: Number.POSITIVE_INFINITY },
  );
}

type Maxima = { gpu: Rate[]; cpu: Rate[]; mem: Rate[] };

// The bid engine strips the class from a job's rates before comparing them with the order's
// maxima, so every gpu_ms maximum applies whatever class it names: the same here. A CPU-only job
// pays no GPU rate, so GPU maxima do not apply to it.
function splitMaxima(maxRates: readonly Rate[], withGpu: boolean): Maxima {
  const m: Maxima = { gpu: [], cpu: [], mem: [] };
  for (const max of maxRates) {
    if (max.meter === "gpu_ms" && withGpu) m.gpu.push(max);
    else if (max.meter === "cpu_core_ms") m.cpu.push(max);
    else if (max.meter === "mem_mib_ms") m.mem.push(max);
  }
  return m;
}

function withinMaxima(rate: PricedRate | undefined, maxima: readonly Rate[]): boolean {
  if (rate === undefined) return true;
  for (const max of maxima) if (!rateAtMost(rate.rate, max)) return false;
  return true;
}

function withinCaps(slot: Slot, maxima: Maxima): boolean {
  return (
    withinMaxima(slot.gpu, maxima.gpu) &&
    withinMaxima(slot.cpu, maxima.cpu) &&
    withinMaxima(slot.mem, maxima.mem)
  );
}

/** Relative slack around a cap in doubles: far above their rounding, far below any real price step. */
const CAP_SLACK = 1e-9;

function treeQuery(r: Requirements, maxima: Maxima): TreeQuery {
  const cap = (list: readonly Rate[]) =>
    list.reduce((low, max) => Math.min(low, hourPriceNum(max)), Number.POSITIVE_INFINITY);
  const gpu = cap(maxima.gpu);
  const cpu = cap(maxima.cpu);
  const mem = cap(maxima.mem);
  return {
    gpus: r.gpus,
    cores: r.cpuCores,
    memMiB: r.memMiB,
    needVram: r.gpus > 0 ? (r.vramMiB ?? 0) : 0,
    needDuration: r.maxDurationS,
    capGpuLo: gpu * (1 - CAP_SLACK),
    capGpuHi: gpu * (1 + CAP_SLACK),
    capCpuLo: cpu * (1 - CAP_SLACK),
    capCpuHi: cpu * (1 + CAP_SLACK),
    capMemLo: mem * (1 - CAP_SLACK),
    capMemHi: mem * (1 + CAP_SLACK),
    withinCaps: (slot) => withinCaps(slot, maxima),
  };
}

function fits(slot: Slot, r: Requirements): boolean {
  return (
    slot.freeCpuCores >= r.cpuCores &&
    slot.freeMemMiB >= r.memMiB &&
    slot.maxDurationS >= r.maxDurationS &&
    slot.freeGpus >= r.gpus &&
    (r.vramMiB === undefined || r.gpus === 0 || slot.vramMiB >= r.vramMiB)
  );
}

/** What `quantity` units cost for an hour at `rate`, floored as `estimateCost` does. */
function hourCost(rate: PricedRate | undefined, quantity: bigint): bigint {
  if (rate === undefined) return 0n;
  return rate.unit !== undefined ? quantity * rate.unit : (quantity * rate.hourPrice) / rate.per;
}

/** The rates a job at `slot` pays, in the shape a bid carries them (no class tags); built once per slot. */
function jobRates(slot: Slot): Rate[] {
  if (slot.jobRates !== undefined) return slot.jobRates;
  const rates: Rate[] = [];
  for (const p of [slot.gpu, slot.cpu, slot.mem]) {
    if (p === undefined) continue;
    const { gpuClass: _class, ...rate } = p.rate;
    rates.push(rate);
  }
  slot.jobRates = rates;
  return rates;
}
