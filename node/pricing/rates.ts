import type { Rate } from "../../marketplace/messages/primitives.ts";
import { GIB_HOUR_MIB_MS, HOUR_MS } from "../../marketplace/rating/constants.ts";

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
    per: HOUR_MS,
    gpuClass,
  }));
  rates.push({ meter: "cpu_core_ms", price: prices.cpuCoreHour, per: HOUR_MS });
  rates.push({ meter: "mem_mib_ms", price: prices.memGiBHour, per: GIB_HOUR_MIB_MS });
  return rates;
}

/** The rates that apply to one job: the gpu_ms rate of its class (if it has GPUs), CPU, memory. */
export function ratesForJob(rates: Rate[], gpuClass: string | undefined): Rate[] {
  return rates
    .filter((r) => r.meter !== "gpu_ms" || (gpuClass !== undefined && r.gpuClass === gpuClass))
    .map(({ gpuClass: _class, ...rest }) => rest);
}

/**
 * An endpoint's counted rates (DESIGN §12): `requests` and `tokens`, each per 1,000, where the
 * operator prices them (`pricing.requests1k`, `pricing.tokens1k`).
 */
export function endpointRates(prices: {
  requests1k?: bigint | undefined;
  tokens1k?: bigint | undefined;
}): Rate[] {
  const rates: Rate[] = [];
  if (prices.requests1k !== undefined)
    rates.push({ meter: "requests", price: prices.requests1k, per: 1000n });
  if (prices.tokens1k !== undefined) rates.push({ meter: "tokens", price: prices.tokens1k, per: 1000n });
  return rates;
}
