import { type GpuReading, readGpuUsage } from "./readGpuUsage.ts";
import type { RunNvidiaSmiOptions } from "./runNvidiaSmi.ts";

/** Options for {@link createGpuUsageReader}. */
export interface GpuUsageReaderOptions extends RunNvidiaSmiOptions {
  /** A reading younger than this is handed out again instead of running nvidia-smi. */
  maxAgeMs: number;
  /** Monotonic ms. Default `performance.now`. */
  now?: () => number;
  /** The reading itself. Default {@link readGpuUsage}. */
  read?: (options: RunNvidiaSmiOptions) => Promise<GpuReading>;
}

/**
 * One nvidia-smi reading shared by every GPU job of the node: each job's meter asks at each sample,
 * and the jobs' samples fall at about the same time, so calls while a reading runs wait for it and
 * a reading younger than `maxAgeMs` is reused. Eight GPU jobs then cost one pair of nvidia-smi runs
 * per interval instead of eight. A failed reading is not kept: the next call tries again.
 */
export function createGpuUsageReader(options: GpuUsageReaderOptions): () => Promise<GpuReading> {
  const now = options.now ?? (() => performance.now());
  const read = options.read ?? readGpuUsage;
  let last: { at: number; reading: GpuReading } | undefined;
  let inFlight: Promise<GpuReading> | undefined;
  return () => {
    if (last !== undefined && now() - last.at < options.maxAgeMs) return Promise.resolve(last.reading);
    inFlight ??= (async () => {
      const at = now();
      try {
        const reading = await read(options);
        last = { at, reading };
        return reading;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };
}
