import { collectFromSources } from "./collectFromSources.ts";
import { DEFAULT_METER_INTERVAL_MS, monotonicMs } from "./constants.ts";
import { createUsageAccumulator, type JobMeter, type UsageAccumulator } from "./createUsageAccumulator.ts";
import { type ProcessTreeSample, readProcessTree } from "./readProcessTree.ts";
import type { UsageEvent, UsageSource } from "./types.ts";

/** One reading of a job's CPU, memory and processes, as a runtime's `JobHandle.sample()` gives it. */
export interface JobReading {
  /** Cumulative CPU ms of the job. */
  cpuMs: bigint;
  /** Memory held now, KiB. */
  memKiB: bigint;
  /** Host pids of its processes (GPU metering matches nvidia-smi's compute apps on them). */
  hostPids: readonly number[];
}

/** Where a meter reads the job: a runtime's reading (its cgroup), or a process tree from /proc. */
export type JobMeterTarget =
  | { read: () => Promise<JobReading>; rootPid?: never }
  /** The job's root process (for a sandboxed job, the bwrap process: the tree includes the job). */
  | { rootPid: number; read?: never };

/** Options for {@link createJobMeter}. */
export type CreateJobMeterOptions = JobMeterTarget & {
  jobId: string;
  /** GPUs allocated to the job. */
  gpus: number;
  gpuClass?: string;
  /** CPU cores the job bought: billed CPU never exceeds cores × metered time. Unlimited when absent. */
  cpuCores?: number;
  /** Sampling period, ms. Default {@link DEFAULT_METER_INTERVAL_MS}. */
  intervalMs?: number;
  /** Wall clock for event times, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Monotonic clock for durations, whole ms. Default `process.hrtime`-based. */
  monotonicNow?: () => bigint;
  /** Receives each sample's events (possibly none). Awaited before the next sample is taken. */
  onEvents: (events: UsageEvent[]) => void | Promise<void>;
  /** Called when `onEvents` or a source fails; metering goes on. Default: print to stderr. */
  onError?: (error: unknown) => void;
  /**
   * More usage collected at every sample (GPU readings, egress, the job's own usage file), stored
   * with the sample's own events in one `onEvents` call. A source that throws loses only its part.
   */
  sources?: readonly UsageSource[];
};

/** A job's meter. */
export interface JobMeterHandle {
  /** Takes the baseline reading and starts sampling. Idempotent; throws after stop(). */
  start(): void;
  /** Takes a last sample, delivers its events, stops; returns Σ emitted per meter. Idempotent. */
  stop(): Promise<Record<JobMeter, bigint>>;
  /** Bills up to now, then stops billing time (the job is suspended) until `resume()`. */
  pause(): Promise<void>;
  /** Skips the suspended stretch and bills time again from now. */
  resume(): Promise<void>;
  /** Σ emitted per meter so far. */
  totals(): Record<JobMeter, bigint>;
}

/**
 * Meters a running job: once started, every `intervalMs` (and once more at `stop()`) it reads the process tree
 * from /proc and emits `gpu_ms`, `cpu_core_ms` and `mem_mib_ms` usage events (see
 * `createUsageAccumulator` for the arithmetic and the id rule), plus what each of `sources`
 * collects at the same moment. Samples never overlap: the next one is scheduled after `onEvents`
 * settles.
 *
 * CPU time used after the last sample by a process that has exited and been reaped by the daemon
 * is not visible in /proc any more: up to one interval of the root's CPU time can go unmetered at
 * the end of a job (in the provider's disfavour, never the payer's).
 */
export function createJobMeter(options: CreateJobMeterOptions): JobMeterHandle {
  const intervalMs = options.intervalMs ?? DEFAULT_METER_INTERVAL_MS;
  if (!Number.isSafeInteger(intervalMs) || intervalMs <= 0) {
    throw new RangeError(`intervalMs must be a positive integer, got ${intervalMs}`);
  }
  const now = options.now ?? Date.now;
  const mono = options.monotonicNow ?? monotonicMs;
  const onError = options.onError ?? ((e: unknown) => console.error("gridspot:node:meter", e));

  const jobId = options.jobId;
  let rootStartTime: bigint | undefined;
  let accumulator: UsageAccumulator | undefined;
  const zero = (): Record<JobMeter, bigint> => ({ gpu_ms: 0n, cpu_core_ms: 0n, mem_mib_ms: 0n });
  if (!Number.isSafeInteger(options.gpus) || options.gpus < 0) {
    throw new RangeError(`gpus must be a non-negative integer, got ${options.gpus}`);
  }

  // A pid reused by an unrelated process after the job ended must not be metered as the job.
  const readJobTree = (rootPid: number): ProcessTreeSample => {
    const sample = readProcessTree(rootPid);
    if (rootStartTime === undefined || sample.rootStartTime !== rootStartTime) {
      return { pids: [], cpuMs: 0n, rssKiB: 0n, rootStartTime: undefined };
    }
    return sample;
  };
  const readJob = async (): Promise<{ cpuMs: bigint; memKiB: bigint; pids: readonly number[] }> => {
    if (options.read !== undefined) {
      const reading = await options.read();
      return { cpuMs: reading.cpuMs, memKiB: reading.memKiB, pids: reading.hostPids };
    }
    const tree = readJobTree(options.rootPid);
    return { cpuMs: tree.cpuMs, memKiB: tree.rssKiB, pids: tree.pids };
  };

  const sources = options.sources ?? [];
  const sampleOnce = async (acc: UsageAccumulator) => {
    const tree = await readJob().catch((error: unknown) => {
      onError(error);
      return { cpuMs: 0n, memKiB: 0n, pids: [] };
    });
    const seq = acc.samples;
    const monoMs = mono();
    const timeMs = now();
    const events = acc.sample({ monoMs, timeMs, cpuMs: tree.cpuMs, rssKiB: tree.memKiB, paused });
    events.push(
      ...(await collectFromSources(sources, { seq, monoMs, timeMs, pids: tree.pids, paused }, onError)),
    );
    try {
      await options.onEvents(events);
    } catch (error) {
      onError(error);
    }
  };

  let paused = false;
  let stopped: Promise<Record<JobMeter, bigint>> | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const schedule = (acc: UsageAccumulator) => {
    timer = setTimeout(() => {
      inFlight = sampleOnce(acc).then(() => {
        if (stopped === undefined) schedule(acc);
      });
    }, intervalMs);
    timer.unref();
  };

  return {
    start() {
      if (stopped !== undefined) throw new Error(`meter of job ${jobId} is stopped`);
      if (accumulator !== undefined) return;
      // The memory baseline is the job's first reading (its first interval bills what it held then).
      const first = options.rootPid === undefined ? undefined : readProcessTree(options.rootPid);
      rootStartTime = first?.rootStartTime;
      const startMono = mono();
      accumulator = createUsageAccumulator({
        jobId,
        gpus: options.gpus,
        ...(options.gpuClass === undefined ? {} : { gpuClass: options.gpuClass }),
        ...(options.cpuCores === undefined ? {} : { cpuCores: options.cpuCores }),
        start: { monoMs: startMono, rssKiB: first?.rssKiB ?? 0n },
      });
      for (const source of sources) source.start?.(startMono);
      schedule(accumulator);
    },
    totals: () => accumulator?.totals() ?? zero(),
    pause() {
      const acc = accumulator;
      if (acc === undefined || paused || stopped !== undefined) return Promise.resolve();
      inFlight = inFlight
        .then(() => sampleOnce(acc))
        .then(() => {
          paused = true;
        });
      return inFlight;
    },
    resume() {
      const acc = accumulator;
      if (acc === undefined || !paused || stopped !== undefined) return Promise.resolve();
      // This sample still carries `paused`: it moves the clock past the suspension without billing it.
      inFlight = inFlight
        .then(() => sampleOnce(acc))
        .then(() => {
          paused = false;
        });
      return inFlight;
    },
    stop() {
      stopped ??= (async () => {
        clearTimeout(timer);
        if (accumulator === undefined) return zero();
        await inFlight;
        await sampleOnce(accumulator);
        return accumulator.totals();
      })();
      return stopped;
    },
  };
}
