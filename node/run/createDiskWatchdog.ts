import { measureDiskUsage } from "./measureDiskUsage.ts";

/** Options for {@link createDiskWatchdog}. */
export interface DiskWatchdogOptions {
  workDir: string;
  /** The quota, bytes. */
  maxBytes: number;
  /** How often the work dir is measured. */
  intervalMs: number;
  /** Called once, when the work dir holds more than `maxBytes`, with what it held. */
  onExceeded: (usedBytes: number) => void;
}

/** A running disk watchdog. */
export interface DiskWatchdog {
  /** The last measurement, bytes. */
  readonly usedBytes: number;
  /** Measures once more (so a job that filled its quota just before it exited is caught), then stops. */
  stop(): Promise<number>;
}

/**
 * Enforces a job's disk quota where the storage driver cannot: measures the work dir every
 * `intervalMs` and calls `onExceeded` the first time it holds more than the quota (the runtime then
 * kills the job with reason `disk-quota`). Measurements never overlap. What a job can write between
 * two measurements is bounded by the disk's speed × `intervalMs`; the process runtime also caps each
 * file at the quota (RLIMIT_FSIZE).
 */
export function createDiskWatchdog(options: DiskWatchdogOptions): DiskWatchdog {
  let usedBytes = 0;
  let exceeded = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const check = async () => {
    usedBytes = await measureDiskUsage(options.workDir, options.maxBytes);
    if (usedBytes > options.maxBytes && !exceeded) {
      exceeded = true;
      options.onExceeded(usedBytes);
    }
  };
  const schedule = () => {
    timer = setTimeout(() => {
      inFlight = check().finally(() => {
        if (!stopped) schedule();
      });
    }, options.intervalMs);
    timer.unref();
  };
  schedule();

  return {
    get usedBytes() {
      return usedBytes;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
      await check();
      return usedBytes;
    },
  };
}
