import type { Rate } from "../../marketplace/messages/primitives.ts";

/** Per-hour units: rates are quoted per GPU-hour, per core-hour and per GiB-hour of memory. */
export const MS_PER_HOUR = 3_600_000n;
export const MIB_MS_PER_GIB_HOUR = 3_600_000n * 1024n;

export type PriceList = {
  /** Token base units per GPU-hour, by GPU class. */
  gpuHour: Record<string, bigint>;
  cpuCoreHour: bigint;
  memGiBHour: bigint;
};

/** The rate card a provider offers: one gpu_ms rate per class, then CPU and memory. */
export function priceListToRates(prices: PriceList): Rate[] {
  const rates: Rate[] = Object.entries(prices.gpuHour).map(([gpuClass, price]) => ({
    meter: "gpu_ms",
    price,
    per: MS_PER_HOUR,
    gpuClass,
  }));
  rates.push({ meter: "cpu_core_ms", price: prices.cpuCoreHour, per: MS_PER_HOUR });
  rates.push({ meter: "mem_mib_ms", price: prices.memGiBHour, per: MIB_MS_PER_GIB_HOUR });
  return rates;
}

/** The rates that apply to one job: the gpu_ms rate of its class (if it has GPUs), CPU, memory. */
export function ratesForJob(rates: Rate[], gpuClass: string | undefined): Rate[] {
  return rates
    .filter((r) => r.meter !== "gpu_ms" || (gpuClass !== undefined && r.gpuClass === gpuClass))
    .map(({ gpuClass: _class, ...rest }) => rest);
}
