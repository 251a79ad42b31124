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
  /** Samples whose reading failed: their interval's utilization is not billed. */
  readonly skippedSamples: number;
  /** Samples taken while a reading was still running: the next reading covers them. */
  readonly slowSamples: number;
}

/**
 * Turns nvidia-smi readings into GPU usage events at each sample of the job meter (see
 * createGpuAccumulator for the arithmetic).
 *
 * nvidia-smi is never waited for: a reading starts when the meter starts and again after each
 * sample that used one, and a sample uses the reading that finished since. The job meter's own
 * samples (and with them pause at a suspension, and stop) therefore take no longer with GPUs, even
 * when nvidia-smi is slow or hangs until its timeout. While a reading is still running, samples
 * leave the GPU meters alone and the reading, when it comes, accounts the whole time since the
 * last one (the time of a suspension excepted). A failed reading bills no utilization for its
 * time, and is logged: one line when a run of failures starts, one when it ends; each distinct
 * oddity is logged once per job. The job's other meters are never affected.
 */
export function createGpuUsageSource(options: GpuUsageSourceOptions): GpuUsageSource {
  let accumulator: GpuAccumulator | undefined;
  let skipped = 0;
  let slowSamples = 0;
  let failing: string | undefined;
  let failedSince = 0;
  let readingNow = false;
  let fresh: { ok: true; reading: GpuReading } | { ok: false; error: unknown } | undefined;
  const warned = new Set<string>();

  const warnOnce = (message: string) => {
    if (warned.has(message)) return;
    warned.add(message);
    options.onWarning(message);
  };
  const startReading = () => {
    if (readingNow) return;
    readingNow = true;
    void options
      .read()
      .then(
        (result) => {
          fresh = { ok: true, reading: result };
        },
        (error: unknown) => {
          fresh = { ok: false, error };
        },
      )
      .finally(() => {
        readingNow = false;
      });
  };

  return {
    name: "gpu",
    get skippedSamples() {
      return skipped;
    },
    get slowSamples() {
      return slowSamples;
    },
    start(monoMs) {
      if (accumulator !== undefined) return;
      accumulator = createGpuAccumulator({
        jobId: options.jobId,
        gpuIndices: options.gpuIndices,
        ...(options.gpuClass === undefined ? {} : { gpuClass: options.gpuClass }),
        startMonoMs: monoMs,
      });
      startReading();
    },
    totals: () => accumulator?.totals() ?? { gpu_util_ms: 0n, gpu_mem_mib_ms: 0n },
    collect(observation) {
      if (accumulator === undefined) throw new Error("GPU usage source used before start()");
      const got = fresh;
      if (got === undefined && !observation.paused) {
        // nvidia-smi is slower than the meter: the reading, when it comes, covers this interval too.
        slowSamples++;
        return [];
      }
      fresh = undefined;
      startReading();
      let result: GpuReading | undefined;
      if (got?.ok === true) {
        result = got.reading;
        if (failing !== undefined) {
          options.onWarning("nvidia-smi answers again: GPU metering resumed", {
            skippedSamples: skipped - failedSince,
          });
          failing = undefined;
        }
      } else if (got?.ok === false) {
        skipped++;
        const message = (got.error as Error).message?.split("\n")[0] ?? String(got.error);
        if (failing !== message) {
          if (failing === undefined) failedSince = skipped - 1;
          options.onWarning("nvidia-smi failed: GPU sample skipped, other meters go on", { error: message });
          failing = message;
        }
      }
      const { events, warnings } = accumulator.sample({ ...observation, reading: result });
      for (const warning of warnings) warnOnce(warning);
      return events;
    },
  };
}
