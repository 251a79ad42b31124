import type { Meter } from "../../marketplace/rating/meters.ts";
import { NODE_SOURCE } from "./constants.ts";
import type { UsageEvent } from "./types.ts";

/** One observation of a job, as fed to {@link UsageAccumulator.sample}. */
export interface UsageObservation {
  /** Monotonic clock, ms. */
  monoMs: bigint;
  /** Wall clock for the events' `time`, epoch ms. */
  timeMs: number;
  /** Cumulative CPU ms of the job's process tree (may drop when processes leave the tree). */
  cpuMs: bigint;
  /** Memory the job holds now, KiB (its cgroup's usage, or Σ PSS of its processes). */
  rssKiB: bigint;
  /**
   * The job was suspended (SIGSTOP) during this interval: its time is not billed (no gpu_ms, no
   * mem_mib_ms). The provider suspends a job whose payer stopped signing; that stretch is not the
   * payer's to pay, and not billing it keeps the provider's loss to the grace period.
   */
  paused?: boolean;
}

/** Options for {@link createUsageAccumulator}. */
export interface UsageAccumulatorOptions {
  jobId: string;
  /** Number of GPUs allocated to the job. */
  gpus: number;
  gpuClass?: string;
  /**
   * CPU cores the job bought: billed CPU never exceeds cores × metered (not suspended) time, whatever
   * the tree reports (a runtime without a CPU limit, or a reading that double counts). Unlimited
   * when absent.
   */
  cpuCores?: number;
  /** The observation at the job's start: the baseline for wall time and memory. CPU starts at 0. */
  start: Omit<UsageObservation, "cpuMs" | "timeMs">;
}

/** Metered meters of a job. */
export type JobMeter = Extract<Meter, "gpu_ms" | "cpu_core_ms" | "mem_mib_ms">;

/** Pure integer bookkeeping from observations to usage events. */
export interface UsageAccumulator {
  /** Accounts the interval since the previous observation; returns its non-zero events. */
  sample(observation: UsageObservation): UsageEvent[];
  /** Σ of the quantities emitted so far, per meter. */
  totals(): Record<JobMeter, bigint>;
  /** Number of observations taken (the next sample's seq is this value). */
  readonly samples: number;
}

/**
 * Turns observations into usage events, integers only:
 * - `gpu_ms` = allocated GPUs × monotonic ms since the previous observation;
 * - `cpu_core_ms` = growth of the tree's cumulative CPU ms, kept monotonic as max(previous, now), so
 *   CPU time counts from the job's start (baseline 0) and a process leaving the tree never refunds;
 *   capped at `cpuCores` × the metered time so far (what was bought), the excess never billed;
 * - `mem_mib_ms` = Σ rssKiB × dtMs with the RSS of the interval's start (what was held during it),
 *   carried exactly: the events' sum is always floor(Σ KiB·ms / 1024).
 *
 * Ids: `${jobId}:${meter}:${seq}` where seq is the 0-based number of the observation, the same for all
 * meters of one observation. A meter whose quantity is 0 emits nothing and leaves a gap in its seqs,
 * so ids depend only on the observation count, never on the values: deterministic and unique.
 */
export function createUsageAccumulator(options: UsageAccumulatorOptions): UsageAccumulator {
  if (!Number.isSafeInteger(options.gpus) || options.gpus < 0) {
    throw new RangeError(`gpus must be a non-negative integer, got ${options.gpus}`);
  }
  const gpus = BigInt(options.gpus);
  if (options.cpuCores !== undefined && (!Number.isSafeInteger(options.cpuCores) || options.cpuCores < 1)) {
    throw new RangeError(`cpuCores must be a positive integer, got ${options.cpuCores}`);
  }
  const cores = options.cpuCores === undefined ? undefined : BigInt(options.cpuCores);
  let cpuAllowance = 0n;
  let lastMono = options.start.monoMs;
  let lastRss = options.start.rssKiB;
  let cpuSeen = 0n;
  let memKiBms = 0n;
  const emitted: Record<JobMeter, bigint> = { gpu_ms: 0n, cpu_core_ms: 0n, mem_mib_ms: 0n };
  let samples = 0;

  return {
    get samples() {
      return samples;
    },
    totals: () => ({ ...emitted }),
    sample(o) {
      const seq = samples++;
      let dt = 0n;
      if (o.monoMs > lastMono) {
        dt = o.paused === true ? 0n : o.monoMs - lastMono;
        lastMono = o.monoMs;
      }
      if (o.cpuMs > cpuSeen) cpuSeen = o.cpuMs;
      if (cores !== undefined) cpuAllowance += cores * dt;
      const cpuDue = cores !== undefined && cpuSeen > cpuAllowance ? cpuAllowance : cpuSeen;
      memKiBms += lastRss * dt;
      lastRss = o.rssKiB;
      const due: Record<JobMeter, bigint> = {
        gpu_ms: emitted.gpu_ms + gpus * dt,
        // Never below what was already emitted (the allowance only grows, so this holds by itself).
        cpu_core_ms: cpuDue > emitted.cpu_core_ms ? cpuDue : emitted.cpu_core_ms,
        mem_mib_ms: memKiBms / 1024n,
      };
      const events: UsageEvent[] = [];
      for (const meter of ["gpu_ms", "cpu_core_ms", "mem_mib_ms"] as const) {
        const quantity = due[meter] - emitted[meter];
        if (quantity === 0n) continue;
        emitted[meter] = due[meter];
        const event: UsageEvent = {
          id: `${options.jobId}:${meter}:${seq}`,
          jobId: options.jobId,
          source: NODE_SOURCE,
          meter,
          quantity,
          time: o.timeMs,
        };
        if (meter === "gpu_ms" && options.gpuClass !== undefined) event.gpuClass = options.gpuClass;
        events.push(event);
      }
      return events;
    },
  };
}
