import type { DECLINE_REASONS } from "../messages/bid.ts";
import type { CapacityOffer } from "../messages/offer.ts";
import type { Requirements } from "../messages/order.ts";
import type { Rate } from "../messages/primitives.ts";
import { rateAboveMax } from "./rateAboveMax.ts";

export type MisfitReason = (typeof DECLINE_REASONS)[number];

/**
 * Why an offer could not take an order now, with the reason code its provider's bid engine would
 * decline with (duration, cpu, memory, gpu-class, vram, no-capacity, price-above-max); undefined
 * when it could. It reads the offer as published, so it says what the market looked like, not what
 * the provider will answer. Used to explain an empty quote; `matchOrder` is the fast path.
 */
export function offerMisfit(
  offer: CapacityOffer,
  r: Requirements,
  maxRates: readonly Rate[],
): MisfitReason | undefined {
  if (r.maxDurationS > offer.maxDurationS) return "duration";
  if (r.cpuCores > offer.cpuCores) return "cpu";
  if (r.memMiB > offer.memMiB) return "memory";
  const priced = offer.resources.filter((c) =>
    offer.rates.some((rate) => rate.meter === "gpu_ms" && rate.gpuClass === c.class),
  );
  let classes = r.gpus === 0 ? [] : priced.filter((c) => r.gpuClass === undefined || c.class === r.gpuClass);
  if (r.gpus > 0) {
    if (classes.length === 0) return "gpu-class";
    const vram = r.vramMiB;
    if (vram !== undefined) {
      classes = classes.filter((c) => c.vramMiB >= vram);
      if (classes.length === 0) return "vram";
    }
    classes = classes.filter((c) => c.count >= r.gpus);
    if (classes.length === 0) return "gpu-class";
  }
  if (offer.freeCpuCores < r.cpuCores || offer.freeMemMiB < r.memMiB) return "no-capacity";
  if (r.gpus > 0) {
    classes = classes.filter((c) => c.free >= r.gpus);
    if (classes.length === 0) return "no-capacity";
  }
  const within = (gpuClass: string | undefined) =>
    rateAboveMax(jobRatesOf(offer.rates, gpuClass), maxRates) === undefined;
  const ok = r.gpus === 0 ? within(undefined) : classes.some((c) => within(c.class));
  return ok ? undefined : "price-above-max";
}

/** An offer's rates for a job on `gpuClass` (none for CPU only), without class tags, as a bid has them. */
export function jobRatesOf(rates: readonly Rate[], gpuClass: string | undefined): Rate[] {
  return rates
    .filter((r) => r.meter !== "gpu_ms" || (gpuClass !== undefined && r.gpuClass === gpuClass))
    .map(({ gpuClass: _class, ...rest }) => rest);
}
