import type { GpuReading } from "../resources/readGpuUsage.ts";
import { createGpuAccumulator, type GpuAccumulator, type GpuMeter } from "./createGpuAccumulator.ts";
import type { UsageSource } from "./types.ts";

/** Options for {@link createGpuUsageSource}. */
export interface GpuUsageSourceOptions {
  jobId: string;
  /** nvidia-smi indices of the GPUs assigned to the job. */
  gpuIndices: readonly number[];
  gpuClass?: string;
  /** One nvidia-smi reading, e.g. `() => readGpuUsage({ nvidiaSmiPath })`. */
  read: () => Promise<GpuReading>;
  /** Where problems go (the job's logger). */
  onWarning: (message: string, fields?: Record<string, unknown>) => void;
}

/** A {@link UsageSource} of `gpu_util_ms` and `gpu_mem_mib_ms`, with its running totals. */
export interface GpuUsageSource extends UsageSource {
  totals(): Record<GpuMeter, bigint>;
  /** Samples whose reading failed and was skipped. */
  readonly skippedSamples: number;
}

/**
 * Reads nvidia-smi at every sample of the job meter and turns the readings into GPU usage events
 * (see createGpuAccumulator). A failed reading (nvidia-smi missing, failing, hanging, printing
 * garbage) is logged and that sample is skipped: the job's other meters are stored as usual. A run
 * of failures logs once when it starts and once when it ends, and each distinct oddity once per job.
 */
export function createGpuUsageSource(options: GpuUsageSourceOptions): GpuUsageSource {
  let accumulator: GpuAccumulator | undefined;
  let skipped = 0;
  let failing: string | undefined;
  let failedSince = 0;
  const warned = new Set<string>();
  return {
    name: "gpu",
    get skippedSamples() {
      return skipped;
    },
    start(monoMs) {
      accumulator ??= createGpuAccumulator({
        jobId: options.jobId,
        gpuIndices: options.gpuIndices,
        ...(options.gpuClass === undefined ? {} : { gpuClass: options.gpuClass }),
        startMonoMs: monoMs,
      });
    },
    totals: () => accumulator?.totals() ?? { gpu_util_ms: 0n, gpu_mem_mib_ms: 0n },
    async collect(observation) {
      if (accumulator === undefined) throw new Error("GPU usage source used before start()");
      let reading: GpuReading | undefined;
      try {
        reading = await options.read();
        if (failing !== undefined) {
          options.onWarning("nvidia-smi answers again: GPU metering resumed", {
            skippedSamples: skipped - failedSince,
          });
          failing = undefined;
        }
      } catch (error) {
        skipped++;
        const message = (error as Error).message.split("\n")[0] ?? "";
        if (failing !== message) {
          if (failing === undefined) failedSince = skipped - 1;
          options.onWarning("nvidia-smi failed: GPU sample skipped, other meters go on", { error: message });
          failing = message;
        }
      }
      const { events, warnings } = accumulator.sample({ ...observation, reading });
      for (const warning of warnings) {
        if (warned.has(warning)) continue;
        warned.add(warning);
        options.onWarning(warning);
      }
      return events;
    },
  };
}
