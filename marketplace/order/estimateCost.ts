import type { Requirements } from "../messages/order.ts";
import type { Rate } from "../messages/primitives.ts";
import { rateUsage } from "../rating/rateUsage.ts";

/**
 * What `rates` charge for `durationMs` of the full requirements: all GPUs, cores and memory busy
 * the whole time. Used to rank bids (per hour) and as the default budget (for the maximum duration).
 */
export function estimateCost(rates: readonly Rate[], requirements: Requirements, durationMs: bigint): bigint {
  const usage: Record<string, bigint> = {
    gpu_ms: BigInt(requirements.gpus) * durationMs,
    cpu_core_ms: BigInt(requirements.cpuCores) * durationMs,
    mem_mib_ms: BigInt(requirements.memMiB) * durationMs,
  };
  return rateUsage(
    usage,
    rates.map(({ gpuClass: _class, ...r }) => r),
    "ms",
  ).total;
}
