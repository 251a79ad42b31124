import type { MaxUsage, Requirements } from "../messages/order.ts";
import type { Granularity, Rate } from "../messages/primitives.ts";
import { rateUsage } from "../rating/rateUsage.ts";

/**
 * What `rates` charge at most for `durationMs` of the full requirements, on every meter they price:
 * all GPUs, cores and memory busy the whole time (`gpu_ms`, `gpu_util_ms` at full use,
 * `gpu_mem_mib_ms` with all the order's VRAM held), and each counted meter at the order's ceiling
 * (`maxUsage`: the worst case the payer allowed; 0 where it set none, which no accepted bid prices).
 * Used to rank bids (for the job's expected duration, with each bid's `granularity`) and as the
 * default budget (for the maximum duration). Time is rounded up to `granularity` (default `ms`).
 */
export function estimateCost(
  rates: readonly Rate[],
  requirements: Requirements,
  durationMs: bigint,
  maxUsage: MaxUsage = {},
  granularity: Granularity = "ms",
): bigint {
  const gpuMs = BigInt(requirements.gpus) * durationMs;
  const usage: Record<string, bigint> = {
    gpu_ms: gpuMs,
    gpu_util_ms: gpuMs,
    gpu_mem_mib_ms: gpuMs * BigInt(requirements.vramMiB ?? 0),
    cpu_core_ms: BigInt(requirements.cpuCores) * durationMs,
    mem_mib_ms: BigInt(requirements.memMiB) * durationMs,
    egress_bytes: maxUsage.egress_bytes ?? 0n,
    requests: maxUsage.requests ?? 0n,
    tokens: maxUsage.tokens ?? 0n,
  };
  return rateUsage(
    usage,
    rates.map(({ gpuClass: _class, ...r }) => r),
    granularity,
  ).total;
}
