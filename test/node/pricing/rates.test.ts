import { describe, expect, it } from "vitest";
import { rate as rateSchema } from "../../../marketplace/messages/primitives.ts";
import { GIB_HOUR_MIB_MS, HOUR_MS } from "../../../marketplace/rating/constants.ts";
import { rateUsage } from "../../../marketplace/rating/rateUsage.ts";
import { priceListToRates, ratesForJob } from "../../../node/pricing/rates.ts";

const GRID = 10n ** 18n;
const H100 = "nvidia-h100-80gb";
const A100 = "nvidia-a100-40gb";

const prices = {
  gpuHour: { [H100]: 3n * GRID, [A100]: GRID },
  cpuCoreHour: GRID / 50n,
  memGiBHour: GRID / 200n,
};

describe("priceListToRates", () => {
  it("quotes one gpu_ms rate per class per GPU-hour, then CPU per core-hour and memory per GiB-hour", () => {
    const rates = priceListToRates(prices);
    expect(rates).toEqual([
      { meter: "gpu_ms", price: 3n * GRID, per: 3_600_000n, gpuClass: H100 },
      { meter: "gpu_ms", price: GRID, per: 3_600_000n, gpuClass: A100 },
      { meter: "cpu_core_ms", price: GRID / 50n, per: 3_600_000n },
      { meter: "mem_mib_ms", price: GRID / 200n, per: 3_600_000n * 1024n },
    ]);
    for (const r of rates) expect(rateSchema.parse(r)).toEqual(r);
  });

  it("prices a GiB of memory for an hour at exactly memGiBHour", () => {
    const [, , , mem] = priceListToRates(prices);
    if (mem === undefined) throw new Error("no memory rate");
    expect(rateUsage({ mem_mib_ms: 1024n * HOUR_MS }, [mem], "ms").total).toBe(GRID / 200n);
    expect(GIB_HOUR_MIB_MS).toBe(1024n * HOUR_MS);
  });

  it("has only CPU and memory rates on a node without GPUs", () => {
    expect(priceListToRates({ ...prices, gpuHour: {} }).map((r) => r.meter)).toEqual([
      "cpu_core_ms",
      "mem_mib_ms",
    ]);
  });
});

describe("ratesForJob", () => {
  const rates = priceListToRates(prices);

  it("keeps the gpu_ms rate of the job's class only, without the class tag", () => {
    expect(ratesForJob(rates, A100)).toEqual([
      { meter: "gpu_ms", price: GRID, per: HOUR_MS },
      { meter: "cpu_core_ms", price: GRID / 50n, per: HOUR_MS },
      { meter: "mem_mib_ms", price: GRID / 200n, per: GIB_HOUR_MIB_MS },
    ]);
  });

  it("has no gpu_ms rate for a CPU-only job or a class we do not price", () => {
    expect(ratesForJob(rates, undefined).map((r) => r.meter)).toEqual(["cpu_core_ms", "mem_mib_ms"]);
    expect(ratesForJob(rates, "nvidia-l4-24gb").map((r) => r.meter)).toEqual(["cpu_core_ms", "mem_mib_ms"]);
  });

  it("gives a rate card that rateUsage accepts (one rate per meter)", () => {
    expect(() => rateUsage({}, ratesForJob(rates, H100), "ms")).not.toThrow();
  });
});
