/** What {@link createRunClock} enforces. */
export interface RunClockOptions {
  /** Running time allowed; suspended time does not count. */
  maxDurationMs: number;
  /** Suspended time allowed at a stretch; unlimited when absent. */
  maxSuspendedMs?: number | undefined;
  /** Called once when the running time is used up, with the reason in words. */
  onTimeout: (detail: string) => void;
  /** Called once when one suspension lasts longer than allowed. */
  onSuspendedTimeout: (detail: string) => void;
}

/** A job's clock: its running time runs while it runs, its suspended time while it is suspended. */
export interface RunClock {
  /** The job is suspended: its running time stops, its suspended time starts. */
  pause(): void;
  /** The job runs again: the rest of its running time goes on. */
  resume(): void;
  /** The job is ending: no more calls. */
  stop(): void;
}

/**
 * The max-duration and suspended-time limits every runtime enforces the same way: a job may run
 * `maxDurationMs` in all (time suspended not counted, so a payer who stops paying does not use up
 * the job's time), and stay suspended `maxSuspendedMs` at a stretch. Starts running.
 */
export function createRunClock(options: RunClockOptions): RunClock {
  let budgetMs = options.maxDurationMs;
  let runningSince = performance.now();
  let durationTimer: NodeJS.Timeout | undefined;
  let suspendTimer: NodeJS.Timeout | undefined;
  let paused = false;
  let stopped = false;

  const run = () => {
    runningSince = performance.now();
    durationTimer = setTimeout(
      () => options.onTimeout(`ran past its maximum duration of ${options.maxDurationMs} ms`),
      Math.max(0, budgetMs),
    );
  };
  run();

  return {
    pause() {
      if (stopped || paused) return;
      paused = true;
      clearTimeout(durationTimer);
      budgetMs -= performance.now() - runningSince;
      const limit = options.maxSuspendedMs;
      if (limit !== undefined) {
        suspendTimer = setTimeout(
          () => options.onSuspendedTimeout(`suspended for more than ${limit} ms`),
          limit,
        );
      }
    },
    resume() {
      if (stopped || !paused) return;
      paused = false;
      clearTimeout(suspendTimer);
      run();
    },
    stop() {
      stopped = true;
      clearTimeout(durationTimer);
      clearTimeout(suspendTimer);
    },
  };
}
