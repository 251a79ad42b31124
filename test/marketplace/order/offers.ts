import type { CapacityOffer } from "../../../marketplace/messages/offer.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import type { BookEntry } from "../../../marketplace/offer/offerBook.ts";
import { GRID, HOUR_MS, PEER_A } from "../messages/fixtures.ts";

export { GRID, HOUR_MS };
export const H100 = "nvidia-h100-80gb";
export const A100 = "nvidia-a100-40gb";
export const T4 = "nvidia-t4-15gb";

export type GpuSpec = {
  class: string;
  count: number;
  free?: number;
  vramMiB?: number;
  price?: bigint | undefined;
  per?: bigint;
};

export type OfferSpec = {
  gpus?: GpuSpec[];
  cpuCores?: number;
  freeCpuCores?: number;
  memMiB?: number;
  freeMemMiB?: number;
  /** Per core-hour and per GiB-hour; undefined leaves the meter unpriced. */
  cpuHour?: bigint | undefined;
  memGiBHour?: bigint | undefined;
  maxDurationS?: number;
  seq?: number;
};

/** A provider address from a number: 0x000…0001 and so on. */
export const addr = (n: number): `0x${string}` => `0x${n.toString(16).padStart(40, "0")}`;

/** A CapacityOffer for tests: every field a real one has, prices per hour. */
export function offerOf(provider: `0x${string}`, spec: OfferSpec = {}): CapacityOffer {
  const gpus = spec.gpus ?? [];
  const rates: Rate[] = gpus
    .filter((g) => g.price !== undefined)
    .map((g) => ({ meter: "gpu_ms", price: g.price ?? 0n, per: g.per ?? HOUR_MS, gpuClass: g.class }));
  const cpuHour = "cpuHour" in spec ? spec.cpuHour : GRID / 50n;
  const memGiBHour = "memGiBHour" in spec ? spec.memGiBHour : GRID / 200n;
  if (cpuHour !== undefined) rates.push({ meter: "cpu_core_ms", price: cpuHour, per: HOUR_MS });
  if (memGiBHour !== undefined) rates.push({ meter: "mem_mib_ms", price: memGiBHour, per: HOUR_MS * 1024n });
  return {
    provider,
    peerId: PEER_A,
    addrs: [],
    resources: gpus.map((g) => ({
      class: g.class,
      count: g.count,
      free: g.free ?? g.count,
      vramMiB: g.vramMiB ?? (g.class === H100 ? 81_559 : g.class === A100 ? 40_960 : 15_360),
    })),
    cpuCores: spec.cpuCores ?? 32,
    freeCpuCores: spec.freeCpuCores ?? spec.cpuCores ?? 32,
    memMiB: spec.memMiB ?? 131_072,
    freeMemMiB: spec.freeMemMiB ?? spec.memMiB ?? 131_072,
    rates: rates.length > 0 ? rates : [{ meter: "cpu_core_ms", price: 0n, per: HOUR_MS }],
    maxDurationS: spec.maxDurationS ?? 86_400,
    seq: spec.seq ?? 1,
  };
}

export const entryOf = (offer: CapacityOffer, receivedAt = 0): BookEntry => ({
  offer,
  expiresAt: Number.MAX_SAFE_INTEGER,
  receivedAt,
});
