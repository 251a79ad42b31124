import type { Requirements } from "../messages/order.ts";
import type { Rate } from "../messages/primitives.ts";
import type { BookEntry } from "../offer/offerBook.ts";
import { estimateCost } from "./estimateCost.ts";
import { rateAtMost } from "./rateAboveMax.ts";

const HOUR_MS = 3_600_000n;

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

/** One way an offer can serve orders: one of its GPU classes, or its CPUs alone. */
type Slot = {
  entry: BookEntry;
  provider: `0x${string}`;
  /** Lower-cased address: the last, deterministic tie-break. */
  key: string;
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
   * ⌊hourPrice / per⌋ of the shelf's sort-key rate as a double: `quantity × keyNum` is (up to
   * rounding) a lower bound of the slot's hourly cost, used only to stop scanning early.
   */
  keyNum: number;
  /** The rate the shelf is sorted by (gpu on a class shelf, cpu on the CPU shelf). */
  sortRate: PricedRate | undefined;
  /** The job's rates here, built once. */
  jobRates: Rate[] | undefined;
};

/** A flat rate with `price × 1 h` precomputed: the cost of q units for an hour is ⌊q·hourPrice / per⌋. */
type PricedRate = { rate: Rate; hourPrice: bigint; per: bigint };

/** One sorted list of slots, with the largest free figures in it to refuse hopeless orders at once. */
type Shelf = {
  /** Flat-rate slots, cheapest sort-key rate first. */
  sorted: Slot[];
  /** Slots with tiered rates: their hourly cost has no simple lower bound, so they are always scanned. */
  irregular: Slot[];
  most: { freeGpus: number; vramMiB: number; freeCpuCores: number; freeMemMiB: number; maxDurationS: number };
  /** The lowest ⌊hourPrice / per⌋ of the other meters on the shelf (doubles): they tighten the scan's bound. */
  least: { cpuNum: number; memNum: number };
};

/**
 * The book indexed for matching: one shelf per GPU class sorted by the class's GPU price, and one
 * shelf of every offer's CPUs sorted by the core price (for CPU-only orders).
 */
export type OfferIndex = { gpu: Map<string, Shelf>; cpu: Shelf; size: number };

/** Builds the index once per book snapshot; `matchOrder` then answers each order in microseconds. */
export function createOfferIndex(entries: readonly BookEntry[]): OfferIndex {
  const gpu = new Map<string, Slot[]>();
  const cpu: Slot[] = [];
  for (const entry of entries) {
    const { offer } = entry;
    const cpuRate = offer.rates.find((r) => r.meter === "cpu_core_ms");
    const memRate = offer.rates.find((r) => r.meter === "mem_mib_ms");
    const base = {
      entry,
      provider: offer.provider as `0x${string}`,
      key: offer.provider.toLowerCase(),
      freeCpuCores: offer.freeCpuCores,
      freeMemMiB: offer.freeMemMiB,
      maxDurationS: offer.maxDurationS,
      cpu: priced(cpuRate),
      mem: priced(memRate),
    };
    cpu.push({
      ...base,
      gpuClass: undefined,
      freeGpus: 0,
      vramMiB: 0,
      gpu: undefined,
      keyNum: 0,
      sortRate: undefined,
      jobRates: undefined,
    });
    for (const resource of offer.resources) {
      const gpuRate = offer.rates.find((r) => r.meter === "gpu_ms" && r.gpuClass === resource.class);
      // A class without a price is not for sale: a job there would have no GPU rate to pay.
      if (gpuRate === undefined) continue;
      const slots = gpu.get(resource.class) ?? [];
      slots.push({
        ...base,
        gpuClass: resource.class,
        freeGpus: resource.free,
        vramMiB: resource.vramMiB,
        gpu: priced(gpuRate),
        keyNum: 0,
        sortRate: undefined,
        jobRates: undefined,
      });
      gpu.set(resource.class, slots);
    }
  }
  return {
    gpu: new Map([...gpu].map(([cls, slots]) => [cls, shelf(slots, (s) => s.gpu)])),
    cpu: shelf(cpu, (s) => s.cpu),
    size: entries.length,
  };
}

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
 */
export function matchOrder(
  index: OfferIndex,
  order: OfferOrder,
  options: MatchOrderOptions = {},
): OfferMatch[] {
  const limit = options.limit ?? 10;
  if (limit <= 0) return [];
  const r = order.requirements;
  const maxima = splitMaxima(order.maxRates);
  const top = new TopMatches(limit);
  if (r.gpus > 0) {
    if (r.gpuClass !== undefined) {
      const shelf = index.gpu.get(r.gpuClass);
      if (shelf !== undefined) scanShelf(shelf, r, maxima, top, "gpu");
    } else {
      for (const shelf of index.gpu.values()) scanShelf(shelf, r, maxima, top, "gpu");
    }
  } else {
    scanShelf(index.cpu, r, maxima, top, "cpu");
  }
  return top.result();
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
// maxima, so every gpu_ms maximum applies whatever class it names: the same here.
function splitMaxima(maxRates: readonly Rate[]): Maxima {
  const m: Maxima = { gpu: [], cpu: [], mem: [] };
  for (const max of maxRates) {
    if (max.meter === "gpu_ms") m.gpu.push(max);
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

function scanShelf(shelf: Shelf, r: Requirements, maxima: Maxima, top: TopMatches, by: "gpu" | "cpu"): void {
  const most = shelf.most;
  if (
    most.maxDurationS < r.maxDurationS ||
    most.freeCpuCores < r.cpuCores ||
    most.freeMemMiB < r.memMiB ||
    (by === "gpu" && (most.freeGpus < r.gpus || most.vramMiB < (r.vramMiB ?? 0)))
  )
    return;
  const gpus = BigInt(r.gpus);
  const cores = BigInt(r.cpuCores);
  const mem = BigInt(r.memMiB);
  const sortQuantity = by === "gpu" ? gpus : cores;
  const quantityNum = by === "gpu" ? r.gpus : r.cpuCores;
  // What the other meters cost at least anywhere on this shelf, added to every slot's bound.
  const othersNum = (by === "gpu" ? r.cpuCores * shelf.least.cpuNum : 0) + r.memMiB * shelf.least.memNum;
  const sorted = shelf.sorted;
  // Sorted by the key rate: every slot from the first one above a maximum on is above it too.
  const end = firstAbove(sorted, by === "gpu" ? maxima.gpu : maxima.cpu);
  const checkCpu = by === "gpu" && maxima.cpu.length > 0;
  const checkMem = maxima.mem.length > 0;
  for (let i = 0; i < end; i++) {
    const slot = sorted[i] as Slot;
    // Every other meter costs ≥ 0, so this slot and all after it cost at least the key meter's
    // share: once that is above the worst match kept, nothing after can enter. (Doubles with slack:
    // a bound that is merely close never stops the scan; exact costs decide.)
    if (quantityNum * slot.keyNum + othersNum > top.worstNum) break;
    if (!fits(slot, r)) continue;
    if (checkCpu && !withinMaxima(slot.cpu, maxima.cpu)) continue;
    if (checkMem && !withinMaxima(slot.mem, maxima.mem)) continue;
    const keyRate = slot.sortRate;
    let cost = keyRate === undefined ? 0n : (sortQuantity * keyRate.hourPrice) / keyRate.per;
    if (by === "gpu" && slot.cpu !== undefined) cost += (cores * slot.cpu.hourPrice) / slot.cpu.per;
    if (slot.mem !== undefined) cost += (mem * slot.mem.hourPrice) / slot.mem.per;
    top.offer(slot, cost);
  }
  for (const slot of shelf.irregular) {
    if (!fits(slot, r)) continue;
    const rates = jobRates(slot, by === "gpu");
    const ok =
      (by === "cpu" || withinMaxima(slot.gpu, maxima.gpu)) &&
      withinMaxima(slot.cpu, maxima.cpu) &&
      withinMaxima(slot.mem, maxima.mem);
    if (ok) top.offer(slot, estimateCost(rates, r, HOUR_MS));
  }
}

/** The index of the first slot whose key rate is above one of `maxima` (binary search, exact). */
function firstAbove(sorted: readonly Slot[], maxima: readonly Rate[]) {
  if (maxima.length === 0) return sorted.length;
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (withinMaxima((sorted[mid] as Slot).sortRate, maxima)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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

/** The rates a job at `slot` pays, in the shape a bid carries them (no class tags); built once per slot. */
function jobRates(slot: Slot, withGpu: boolean): Rate[] {
  if (slot.jobRates !== undefined) return slot.jobRates;
  const rates: Rate[] = [];
  for (const p of [withGpu ? slot.gpu : undefined, slot.cpu, slot.mem]) {
    if (p === undefined) continue;
    const { gpuClass: _class, ...rate } = p.rate;
    rates.push(rate);
  }
  slot.jobRates = rates;
  return rates;
}

/** ⌊hourPrice / per⌋ as a double (0 for a missing rate): a per-unit lower bound for the scan. */
function floorNum(rate: PricedRate | undefined): number {
  return rate === undefined ? 0 : Number(rate.hourPrice / rate.per);
}

function priced(rate: Rate | undefined): PricedRate | undefined {
  return rate === undefined ? undefined : { rate, hourPrice: rate.price * HOUR_MS, per: rate.per };
}

function shelf(slots: Slot[], keyOf: (s: Slot) => PricedRate | undefined): Shelf {
  const sorted: Slot[] = [];
  const irregular: Slot[] = [];
  const most = { freeGpus: 0, vramMiB: 0, freeCpuCores: 0, freeMemMiB: 0, maxDurationS: 0 };
  const least = { cpuNum: Number.POSITIVE_INFINITY, memNum: Number.POSITIVE_INFINITY };
  for (const s of slots) {
    least.cpuNum = Math.min(least.cpuNum, floorNum(s.cpu));
    least.memNum = Math.min(least.memNum, floorNum(s.mem));
    most.freeGpus = Math.max(most.freeGpus, s.freeGpus);
    most.vramMiB = Math.max(most.vramMiB, s.vramMiB);
    most.freeCpuCores = Math.max(most.freeCpuCores, s.freeCpuCores);
    most.freeMemMiB = Math.max(most.freeMemMiB, s.freeMemMiB);
    most.maxDurationS = Math.max(most.maxDurationS, s.maxDurationS);
    s.sortRate = keyOf(s);
    s.keyNum = floorNum(s.sortRate);
    const tiered =
      s.gpu?.rate.tiers !== undefined || s.cpu?.rate.tiers !== undefined || s.mem?.rate.tiers !== undefined;
    (tiered ? irregular : sorted).push(s);
  }
  // Exact: a.price/a.per < b.price/b.per ⇔ a.price·b.per < b.price·a.per. A missing rate costs nothing.
  sorted.sort((a, b) => {
    const x = keyOf(a);
    const y = keyOf(b);
    const left = x === undefined ? 0n : x.rate.price * (y?.per ?? 1n);
    const right = y === undefined ? 0n : y.rate.price * (x?.per ?? 1n);
    return left < right ? -1 : left > right ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  });
  if (slots.length === 0) {
    least.cpuNum = 0;
    least.memNum = 0;
  }
  return { sorted, irregular, most, least };
}

type Ranked = { slot: Slot; cost: bigint };

/** The best `limit` matches seen so far, cheapest first, one per provider. */
class TopMatches {
  readonly #limit: number;
  readonly #items: Ranked[] = [];
  readonly #byProvider = new Map<string, Ranked>();
  /** The worst kept cost as a double with slack above it; +∞ until `limit` matches are kept. */
  worstNum = Number.POSITIVE_INFINITY;

  constructor(limit: number) {
    this.#limit = limit;
  }

  full(): boolean {
    return this.#items.length >= this.#limit;
  }

  offer(slot: Slot, cost: bigint): void {
    const items = this.#items;
    const held = this.#byProvider.get(slot.key);
    if (held !== undefined) {
      // Another class of the same provider: keep the cheaper one.
      if (!better(cost, slot, held.cost, held.slot)) return;
      items.splice(items.indexOf(held), 1);
    } else if (this.full()) {
      const worst = items.at(-1) as Ranked;
      if (!better(cost, slot, worst.cost, worst.slot)) return;
      items.pop();
      this.#byProvider.delete(worst.slot.key);
    }
    // Binary search for the insertion point keeps the list sorted without re-sorting.
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = items[mid] as Ranked;
      if (better(m.cost, m.slot, cost, slot)) lo = mid + 1;
      else hi = mid;
    }
    const item = { slot, cost };
    items.splice(lo, 0, item);
    this.#byProvider.set(slot.key, item);
    if (this.full()) {
      // Slack of a millionth plus one: far above double rounding, so the bound stays a true bound.
      const worst = Number((items.at(-1) as Ranked).cost);
      this.worstNum = worst * (1 + 1e-6) + 1;
    }
  }

  result(): OfferMatch[] {
    return this.#items.map(({ slot, cost }) => ({
      entry: slot.entry,
      provider: slot.provider,
      gpuClass: slot.gpuClass,
      rates: jobRates(slot, slot.gpuClass !== undefined),
      hourlyCost: cost,
    }));
  }
}

function better(costA: bigint, a: Slot, costB: bigint, b: Slot): boolean {
  if (costA !== costB) return costA < costB;
  if (a.key !== b.key) return a.key < b.key;
  return (a.gpuClass ?? "") < (b.gpuClass ?? "");
}
