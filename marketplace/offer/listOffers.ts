import type { Granularity, Rate } from "../messages/primitives.ts";
import { HOUR_MS } from "../rating/constants.ts";
import type { BookEntry } from "./offerBook.ts";

const MIB_PER_GIB = 1024n;

/** One line of `gridspot market offers`: one GPU class of one provider (or its CPUs alone). */
export type OfferRow = {
  provider: `0x${string}`;
  peerId: string;
  /** null for a provider without GPUs. */
  gpuClass: string | null;
  gpusFree: number;
  gpusTotal: number;
  vramMiB: number;
  cpuCoresFree: number;
  cpuCores: number;
  memMiBFree: number;
  memMiB: number;
  /** Base units per GPU-hour, core-hour and GiB-hour (floored when a rate's `per` does not divide evenly). */
  gpuHour: bigint | null;
  cpuCoreHour: bigint | null;
  memGiBHour: bigint | null;
  maxDurationS: number;
  /** How the provider rounds billed time up; `ms` when its offer does not say. */
  granularity: Granularity;
  /** The least a job is charged, base units; null when none. */
  minimumCharge: bigint | null;
  /** Epoch ms when the offer arrived. */
  receivedAt: number;
  seq: number;
};

/** A rate as the price of `units` of its meter (e.g. 3,600,000 gpu_ms = a GPU-hour). */
export function pricePer(rate: Rate | undefined, units: bigint): bigint | null {
  return rate === undefined ? null : (rate.price * units) / rate.per;
}

/**
 * The rows of the offer table: every GPU class of every live offer (only `gpuClass` when given),
 * and one row for a provider without GPUs; by provider address, then class.
 */
export function listOffers(
  entries: readonly BookEntry[],
  filter: { gpuClass?: string | undefined } = {},
): OfferRow[] {
  const rows: OfferRow[] = [];
  for (const { offer, receivedAt } of entries) {
    const common = {
      provider: offer.provider as `0x${string}`,
      peerId: offer.peerId,
      cpuCoresFree: offer.freeCpuCores,
      cpuCores: offer.cpuCores,
      memMiBFree: offer.freeMemMiB,
      memMiB: offer.memMiB,
      cpuCoreHour: pricePer(
        offer.rates.find((r) => r.meter === "cpu_core_ms"),
        HOUR_MS,
      ),
      memGiBHour: pricePer(
        offer.rates.find((r) => r.meter === "mem_mib_ms"),
        HOUR_MS * MIB_PER_GIB,
      ),
      maxDurationS: offer.maxDurationS,
      granularity: offer.granularity ?? "ms",
      minimumCharge: offer.minimumCharge ?? null,
      receivedAt,
      seq: offer.seq,
    };
    const resources = offer.resources.filter(
      (r) => filter.gpuClass === undefined || r.class === filter.gpuClass,
    );
    if (offer.resources.length === 0 && filter.gpuClass === undefined) {
      rows.push({ ...common, gpuClass: null, gpusFree: 0, gpusTotal: 0, vramMiB: 0, gpuHour: null });
    }
    for (const r of resources) {
      rows.push({
        ...common,
        gpuClass: r.class,
        gpusFree: r.free,
        gpusTotal: r.count,
        vramMiB: r.vramMiB,
        gpuHour: pricePer(
          offer.rates.find((x) => x.meter === "gpu_ms" && x.gpuClass === r.class),
          HOUR_MS,
        ),
      });
    }
  }
  return rows.sort((a, b) =>
    a.provider.toLowerCase() !== b.provider.toLowerCase()
      ? a.provider.toLowerCase() < b.provider.toLowerCase()
        ? -1
        : 1
      : (a.gpuClass ?? "") < (b.gpuClass ?? "")
        ? -1
        : 1,
  );
}
