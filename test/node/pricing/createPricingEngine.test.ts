// Dynamic pricing on a clock the test moves: a real Capacity provides utilization, the test plays
// the bid engine's signals, and each `tick` ends an epoch. No sleeping.
import { describe, expect, it } from "vitest";
import type { Requirements } from "../../../marketplace/messages/order.ts";
import { HOUR_MS } from "../../../marketplace/rating/constants.ts";
import { Capacity } from "../../../node/bid/capacity.ts";
import { createPricingEngine, type DynamicPricing } from "../../../node/pricing/createPricingEngine.ts";
import type { PriceCurve } from "../../../node/pricing/nextPrice.ts";

const GRID = 10n ** 18n;
const H100 = "nvidia-h100-80gb";
const EPOCH_MS = 60_000;
const h100Curve: PriceCurve = {
  base: 3n * GRID,
  floor: 2n * GRID,
  ceiling: 4n * GRID,
  targetUtilizationBps: 5_000,
  maxStepBps: 1_000,
};
const fixed = { gpuHour: { [H100]: 3n * GRID }, cpuCoreHour: GRID / 50n, memGiBHour: GRID / 200n };
const oneGpu: Requirements = { gpus: 1, gpuClass: H100, cpuCores: 1, memMiB: 1024, maxDurationS: 3600 };

/** A node with two H100s; `null` for a node with fixed prices only. */
function setup(dynamic: DynamicPricing | null = { epochMs: EPOCH_MS, curves: { [H100]: h100Curve } }) {
  let now = 1_000_000;
  let changes = 0;
  let engine: ReturnType<typeof createPricingEngine> | undefined;
  const capacity = new Capacity(
    {
      gpus: [
        { index: 0, class: H100, vramMiB: 81_559 },
        { index: 1, class: H100, vramMiB: 81_559 },
      ],
      cpuCores: 8,
      memMiB: 16_384,
      maxDurationS: 86_400,
    },
    { now: () => now, onChange: () => engine?.observe() },
  );
  engine = createPricingEngine(
    { utilization: () => capacity.utilization(), now: () => now, onChange: () => changes++ },
    { fixed, dynamic: dynamic ?? undefined },
  );
  const pricing = engine;
  return {
    capacity,
    pricing,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
    changes: () => changes,
    /** One epoch in which `during` runs at its start. */
    epoch(during: () => void = () => {}) {
      during();
      now += EPOCH_MS;
      return pricing.tick();
    },
    gpuPrice: () => pricing.priceOf(H100),
  };
}

describe("createPricingEngine", () => {
  it("raises the price under load, by at most maxStep per epoch, up to the ceiling", () => {
    const { capacity, epoch, gpuPrice, now } = setup();
    capacity.reserve("a", oneGpu, now() + 10 * 3_600_000);
    capacity.reserve("b", oneGpu, now() + 10 * 3_600_000);
    const seen = [gpuPrice()];
    for (let i = 0; i < 10; i++) {
      epoch();
      seen.push(gpuPrice());
    }
    // Full utilization, target 50 %: the full 10 % step each epoch, until the ceiling.
    expect(seen.slice(0, 4)).toEqual([3n * GRID, 33n * 10n ** 17n, 363n * 10n ** 16n, 3993n * 10n ** 15n]);
    expect(seen.at(-1)).toBe(4n * GRID);
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1] as bigint, seen[i] as bigint];
      expect(b).toBeGreaterThanOrEqual(a);
      expect((b - a) * 10_000n).toBeLessThanOrEqual(a * 1_000n);
    }
  });

  it("lowers the price when idle, down to the floor", () => {
    const { epoch, gpuPrice } = setup();
    const seen = [gpuPrice()];
    for (let i = 0; i < 10; i++) {
      epoch();
      seen.push(gpuPrice());
    }
    expect(seen[1]).toBe(27n * 10n ** 17n);
    expect(seen.at(-1)).toBe(2n * GRID);
    for (let i = 1; i < seen.length; i++)
      expect(seen[i] as bigint).toBeLessThanOrEqual(seen[i - 1] as bigint);
  });

  it("weighs utilization by time: one GPU of two for half the epoch is 25 %", () => {
    const { capacity, pricing, advance, now, epoch } = setup();
    capacity.reserve("a", oneGpu, now() + EPOCH_MS / 2);
    advance(EPOCH_MS / 2);
    // The hold lapses without its job starting; the running engine's once-a-second look sees it.
    pricing.observe();
    advance(EPOCH_MS / 2);
    const moves = pricing.tick();
    expect(moves).toEqual([
      {
        key: H100,
        from: 3n * GRID,
        to: 3n * GRID - (3n * GRID * 500n) / 10_000n,
        signals: { utilizationBps: 2_500, turnedAway: 0, lostOnPrice: 0 },
      },
    ]);
    // The next epoch, with nothing held, is idle.
    expect(epoch()[0]?.signals.utilizationBps).toBe(0);
  });

  it("raises the price when orders were turned away for capacity, even at low utilization", () => {
    const { capacity, pricing, epoch, gpuPrice, now } = setup();
    capacity.reserve("a", oneGpu, now() + 3_600_000);
    const moves = epoch(() => pricing.turnedAway([H100, "cpu"]));
    // 50 % in use is the target; the turned-away order adds the full step.
    expect(moves[0]?.signals).toEqual({ utilizationBps: 5_000, turnedAway: 1, lostOnPrice: 0 });
    expect(gpuPrice()).toBe(33n * 10n ** 17n);
    // Signals are per epoch: the next one, at target with nothing else, holds the price.
    expect(epoch()).toEqual([]);
    expect(gpuPrice()).toBe(33n * 10n ** 17n);
  });

  it("lowers the price when bids were lost on price at the target", () => {
    const { capacity, pricing, epoch, gpuPrice, now } = setup();
    capacity.reserve("a", oneGpu, now() + 3_600_000);
    epoch(() => {
      pricing.lostOnPrice([H100]);
      pricing.lostOnPrice([H100]);
    });
    expect(gpuPrice()).toBe(27n * 10n ** 17n);
  });

  it("quotes the current price in its rates and tells the advertiser only when a price moved", () => {
    const { capacity, pricing, epoch, changes, now } = setup();
    const gpuRate = () => pricing.rates().find((r) => r.meter === "gpu_ms");
    expect(gpuRate()).toEqual({ meter: "gpu_ms", price: 3n * GRID, per: HOUR_MS, gpuClass: H100 });
    capacity.reserve("a", oneGpu, now() + 3_600_000);
    epoch(); // at target: no move
    expect(changes()).toBe(0);
    epoch(() => pricing.turnedAway([H100]));
    expect(changes()).toBe(1);
    expect(gpuRate()?.price).toBe(33n * 10n ** 17n);
    // Classes without a curve keep their fixed prices.
    expect(pricing.rates().find((r) => r.meter === "cpu_core_ms")?.price).toBe(GRID / 50n);
    expect(pricing.status()).toEqual([
      {
        class: H100,
        price: 33n * 10n ** 17n,
        curve: h100Curve,
        lastEpoch: { utilizationBps: 5_000, turnedAway: 1, lostOnPrice: 0 },
      },
    ]);
  });

  it("moves CPU and memory prices on their own curves, and ignores curves for GPUs it lacks", () => {
    const cpuCurve = { ...h100Curve, base: GRID / 50n, floor: GRID / 100n, ceiling: GRID / 10n };
    const { capacity, pricing, epoch, now } = setup({
      epochMs: EPOCH_MS,
      curves: { cpu: cpuCurve, "nvidia-a100-40gb": h100Curve },
    });
    expect(pricing.status().map((s) => s.class)).toEqual(["cpu"]);
    capacity.reserve("a", { ...oneGpu, gpus: 0, cpuCores: 8 }, now() + 3_600_000);
    epoch();
    expect(pricing.priceOf("cpu")).toBe(((GRID / 50n) * 11n) / 10n);
    expect(pricing.priceOf(H100)).toBe(3n * GRID);
  });

  it("keeps fixed prices without a dynamic section", () => {
    const { capacity, pricing, epoch, now } = setup(null);
    capacity.reserve("a", { ...oneGpu, gpus: 2 }, now() + 3_600_000);
    epoch(() => pricing.turnedAway([H100]));
    expect(pricing.priceOf(H100)).toBe(3n * GRID);
    expect(pricing.status()).toEqual([]);
  });
});
