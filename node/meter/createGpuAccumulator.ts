import type { GpuReading } from "../resources/readGpuUsage.ts";
import { NODE_SOURCE } from "./constants.ts";
import type { UsageEvent } from "./types.ts";

/** The GPU meters measured from nvidia-smi (DESIGN.md §5, beside the allocation-based `gpu_ms`). */
export type GpuMeter = "gpu_util_ms" | "gpu_mem_mib_ms";

/** Options for {@link createGpuAccumulator}. */
export interface GpuAccumulatorOptions {
  jobId: string;
  /** nvidia-smi indices of the GPUs assigned to the job (what CUDA_VISIBLE_DEVICES lists). */
  gpuIndices: readonly number[];
  gpuClass?: string;
  /** Monotonic ms at the job's start: the first interval starts there, with no GPU memory held. */
  startMonoMs: bigint;
}

/** One GPU sample: the moment, the job's pids, and the reading (undefined when nvidia-smi failed). */
export interface GpuObservation {
  seq: number;
  monoMs: bigint;
  timeMs: number;
  pids: readonly number[];
  /** The job was suspended during the interval: nothing of it is billed. */
  paused?: boolean;
  reading: GpuReading | undefined;
}

/** Pure integer bookkeeping from GPU readings to usage events. */
export interface GpuAccumulator {
  /** Accounts the interval since the previous observation; its events and what looked wrong. */
  sample(observation: GpuObservation): { events: UsageEvent[]; warnings: string[] };
  totals(): Record<GpuMeter, bigint>;
}

/**
 * Turns GPU readings into `gpu_util_ms` and `gpu_mem_mib_ms` events, integers only:
 * - `gpu_util_ms` = Σ over the assigned GPUs of utilization% × dt / 100, where the utilization read
 *   at a sample covers the interval that ends there (nvidia-smi averages over its last period);
 * - `gpu_mem_mib_ms` = Σ GPU memory of the job's processes × dt, with the memory read at the
 *   interval's start (what was held during it, as `mem_mib_ms` does), 0 at the job's start.
 * A process counts for the job when its pid is in the job's process tree at the sample and it runs
 * on an assigned GPU (by uuid, resolved from the index in the same reading).
 *
 * An interval in which the job was suspended is not billed at all, like its `gpu_ms`.
 * An observation may cover several meter samples (the source waits for a slow nvidia-smi): dt is
 * always the time since the previous observation.
 *
 * Both carry the remainder exactly: the events' sum is always floor(Σ %·ms / 100). A failed reading
 * bills no utilization for its interval and leaves the memory of the next one unknown (not billed):
 * what nvidia-smi could not see is never guessed, so a gap is in the payer's favour.
 *
 * Ids: `${jobId}:${meter}:${seq}`, seq being the job meter's sample number; zero quantities emit
 * nothing.
 */
export function createGpuAccumulator(options: GpuAccumulatorOptions): GpuAccumulator {
  const assigned = new Set(options.gpuIndices);
  let lastMono = options.startMonoMs;
  let heldMiB: bigint | undefined = 0n;
  let utilPercentMs = 0n;
  let memMiBms = 0n;
  const emitted: Record<GpuMeter, bigint> = { gpu_util_ms: 0n, gpu_mem_mib_ms: 0n };

  return {
    totals: () => ({ ...emitted }),
    sample(o) {
      const warnings: string[] = [];
      let dt = 0n;
      if (o.monoMs > lastMono) {
        dt = o.paused === true ? 0n : o.monoMs - lastMono;
        lastMono = o.monoMs;
      }
      if (heldMiB !== undefined) memMiBms += heldMiB * dt;
      // Without a reading the memory held from now on is unknown, except across a suspension,
      // where nothing runs to change it.
      if (o.reading === undefined && o.paused !== true) heldMiB = undefined;
      if (o.reading !== undefined) {
        const uuids = new Set<string>();
        for (const index of assigned) {
          const gpu = o.reading.gpus.find((g) => g.index === index);
          if (gpu === undefined) {
            warnings.push(`assigned GPU ${index} is missing from nvidia-smi's answer`);
            continue;
          }
          uuids.add(gpu.uuid);
          if (gpu.utilizationPercent === undefined) warnings.push(`GPU ${index} reports no utilization`);
          else utilPercentMs += gpu.utilizationPercent * dt;
        }
        const pids = new Set(o.pids);
        let held = 0n;
        for (const app of o.reading.apps) {
          if (!pids.has(app.pid)) continue;
          if (!uuids.has(app.gpuUuid)) {
            warnings.push(`job process ${app.pid} uses GPU ${app.gpuUuid}, which is not assigned to it`);
            continue;
          }
          if (app.usedMemoryMiB === undefined) warnings.push(`GPU memory of process ${app.pid} is unknown`);
          else held += app.usedMemoryMiB;
        }
        heldMiB = held;
      }
      const due: Record<GpuMeter, bigint> = { gpu_util_ms: utilPercentMs / 100n, gpu_mem_mib_ms: memMiBms };
      const events: UsageEvent[] = [];
      for (const meter of ["gpu_util_ms", "gpu_mem_mib_ms"] as const) {
        const quantity = due[meter] - emitted[meter];
        if (quantity === 0n) continue;
        emitted[meter] = due[meter];
        const event: UsageEvent = {
          id: `${options.jobId}:${meter}:${o.seq}`,
          jobId: options.jobId,
          source: NODE_SOURCE,
          meter,
          quantity,
          time: o.timeMs,
        };
        if (options.gpuClass !== undefined) event.gpuClass = options.gpuClass;
        events.push(event);
      }
      return { events, warnings };
    },
  };
}
