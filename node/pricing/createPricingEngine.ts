import type { Logger } from "../../marketplace/log/createLogger.ts";
import type { Rate } from "../../marketplace/messages/primitives.ts";
import { createUtilizationMeter, type UtilizationSample } from "./createUtilizationMeter.ts";
import { type EpochSignals, nextPrice, type PriceCurve } from "./nextPrice.ts";
import { type PriceList, priceListToRates } from "./rates.ts";

/** The operator's `pricing.dynamic`: an epoch length and one curve per resource class it moves. */
export type DynamicPricing = {
  epochMs: number;
  /** Keyed by GPU class, `cpu` (per core-hour) or `mem` (per GiB-hour). */
  curves: Record<string, PriceCurve>;
};

export type PricingEngineComponents = {
  /** Units in use and in all per resource class, now (Capacity.utilization). */
  utilization: () => UtilizationSample;
  logger?: Logger;
  /** Epoch ms; the wall clock by default. */
  now?: () => number;
  /** Called after an epoch that changed a price: the offer must be republished. */
  onChange?: () => void;
};

export type PricingEngineInit = {
  /** The fixed prices: every class without a curve keeps its price here for good. */
  fixed: PriceList;
  dynamic?: DynamicPricing | undefined;
};

/** How often the running engine looks at capacity between changes. */
export const UTILIZATION_SAMPLE_MS = 1_000;

export type PriceMove = { key: string; from: bigint; to: bigint; signals: EpochSignals };

/**
 * Each provider's prices (DESIGN §6). Without `dynamic` the fixed prices hold. With it, every epoch
 * moves each curve's price by `nextPrice` from what the epoch saw: time-weighted utilization of the
 * class, orders turned away for lack of it, and bids of ours the submitter passed on. Offers and bids
 * quote `rates()`, the current prices. `tick` ends an epoch (the timer of `start` calls it; tests call
 * it directly with their own clock).
 */
export function createPricingEngine(components: PricingEngineComponents, init: PricingEngineInit) {
  const now = components.now ?? Date.now;
  const prices: PriceList = { ...init.fixed, gpuHour: { ...init.fixed.gpuHour } };
  const curves = new Map<string, PriceCurve>();
  for (const [key, curve] of Object.entries(init.dynamic?.curves ?? {})) {
    if (key !== "cpu" && key !== "mem" && prices.gpuHour[key] === undefined) {
      components.logger?.warn("price curve for a GPU class this node does not have", { gpuClass: key });
      continue;
    }
    curves.set(key, curve);
    setPrice(key, curve.base);
  }
  const meter = createUtilizationMeter(now);
  meter.observe(components.utilization());
  const turnedAway = new Map<string, number>();
  const lostOnPrice = new Map<string, number>();
  let lastSignals = new Map<string, EpochSignals>();
  let rates = priceListToRates(prices);
  let timer: NodeJS.Timeout | undefined;
  let sampler: NodeJS.Timeout | undefined;

  function priceOf(key: string): bigint {
    if (key === "cpu") return prices.cpuCoreHour;
    if (key === "mem") return prices.memGiBHour;
    return prices.gpuHour[key] ?? 0n;
  }

  function setPrice(key: string, price: bigint): void {
    if (key === "cpu") prices.cpuCoreHour = price;
    else if (key === "mem") prices.memGiBHour = price;
    else prices.gpuHour[key] = price;
  }

  const count = (counter: Map<string, number>) => (keys: readonly string[]) => {
    for (const key of keys) if (curves.has(key)) counter.set(key, (counter.get(key) ?? 0) + 1);
  };

  function tick(): PriceMove[] {
    // Holds expire lazily: look at capacity once more so the epoch ends on its true state.
    meter.observe(components.utilization());
    const utilization = meter.take();
    const moves: PriceMove[] = [];
    lastSignals = new Map();
    for (const [key, curve] of curves) {
      const signals: EpochSignals = {
        utilizationBps: utilization.get(key) ?? 0,
        turnedAway: turnedAway.get(key) ?? 0,
        lostOnPrice: lostOnPrice.get(key) ?? 0,
      };
      lastSignals.set(key, signals);
      const from = priceOf(key);
      const to = nextPrice(from, curve, signals);
      if (to !== from) {
        setPrice(key, to);
        moves.push({ key, from, to, signals });
      }
    }
    turnedAway.clear();
    lostOnPrice.clear();
    if (moves.length > 0) {
      rates = priceListToRates(prices);
      for (const m of moves)
        components.logger?.info("price moved", { class: m.key, from: m.from, to: m.to, ...m.signals });
      components.onChange?.();
    }
    return moves;
  }

  return {
    /** The rate card offers and bids quote now. */
    rates: (): Rate[] => rates,
    /** The most each price can reach: a curve's ceiling, or the fixed price (the cap of spot bids). */
    ceilingRates: (): Rate[] => {
      const ceilings: PriceList = { ...prices, gpuHour: { ...prices.gpuHour } };
      for (const [key, curve] of curves) {
        if (key === "cpu") ceilings.cpuCoreHour = curve.ceiling;
        else if (key === "mem") ceilings.memGiBHour = curve.ceiling;
        else ceilings.gpuHour[key] = curve.ceiling;
      }
      return priceListToRates(ceilings);
    },
    /** The price per hour of one resource class (GPU class, `cpu`, `mem`). */
    priceOf,
    /** Capacity changed: utilization is time-weighted from this moment. */
    observe(): void {
      meter.observe(components.utilization());
    },
    turnedAway: count(turnedAway),
    lostOnPrice: count(lostOnPrice),
    tick,
    /** Per curve: the price now, its curve, and the signals of the last epoch (operator API). */
    status() {
      return [...curves].map(([key, curve]) => ({
        class: key,
        price: priceOf(key),
        curve,
        lastEpoch: lastSignals.get(key) ?? null,
      }));
    },
    start(): void {
      if (init.dynamic === undefined || curves.size === 0) return;
      timer = setInterval(tick, init.dynamic.epochMs);
      timer.unref();
      // Unstarted holds lapse without an event (Capacity sweeps them when next asked): look every
      // second, so a lapsed hold counts as in use for at most that long.
      sampler = setInterval(() => meter.observe(components.utilization()), UTILIZATION_SAMPLE_MS);
      sampler.unref();
    },
    stop(): void {
      if (timer !== undefined) clearInterval(timer);
      if (sampler !== undefined) clearInterval(sampler);
      timer = undefined;
      sampler = undefined;
    },
  };
}

export type PricingEngine = ReturnType<typeof createPricingEngine>;
