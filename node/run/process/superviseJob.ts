import type { ChildProcess } from "node:child_process";
import { STDIO_DRAIN_MS } from "../constants.ts";
import { createRunClock } from "../createRunClock.ts";
import type { ExitReason, JobExit } from "../types.ts";
import { LIMIT_POLL_MS } from "./constants.ts";

/** How a supervisor reaches every process of a job: through its cgroup, or its process tree. */
export interface JobProcesses {
  /** Asks every process of the job to stop (SIGTERM), sparing bubblewrap, whose death would SIGKILL the sandbox at once. */
  terminate(): void;
  /** SIGKILLs every process of the job and waits (bounded) until none is left. */
  killAll(): Promise<void>;
  /** Stops every process of the job (cgroup freezer, else SIGSTOP). */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
}

/** A limit a job hit: it is killed at once with that reason. */
export interface LimitHit {
  reason: "oom" | "pids" | "disk-quota";
  /** Which limit, in words. */
  detail: string;
}

/** What {@link superviseJob} enforces on a started job. */
export interface SuperviseJobOptions {
  /** Epoch ms when the job started. */
  startedAt: number;
  /** Running time allowed; time spent suspended does not count. */
  maxDurationMs: number;
  /** Suspended time allowed before the job is killed; unlimited when absent. */
  maxSuspendedMs?: number;
  killGraceMs: number;
  /** Polled every {@link LIMIT_POLL_MS} while the job runs (cgroup counters, or usage against the limits). */
  checkLimits?: () => Promise<LimitHit | undefined>;
  /**
   * Called once the job is gone, whatever ended it (so it can stop its watchdogs): the last word on a
   * limit it hit (counters that moved at the end, the disk quota), used when nothing else ended it.
   */
  finalCheck?: (ended: {
    exitCode: number | null;
    signal: NodeJS.Signals | null;
  }) => Promise<LimitHit | undefined>;
}

/** A supervised job. */
export interface SupervisedJob {
  /** Settles once the job and everything it started are gone; never rejects. */
  readonly exited: Promise<JobExit>;
  readonly suspended: boolean;
  /** SIGTERM, then SIGKILL after the grace period; reason `cancelled`. No-op once it is ending. */
  cancel(message?: string): Promise<JobExit>;
  /** Stops every process; the max-duration clock stops, the suspended clock starts. */
  suspend(): Promise<void>;
  resume(): Promise<void>;
  /** Kills the job at once for a limit it hit (unless it is ending already). */
  stopForLimit(hit: LimitHit): void;
}

/**
 * Wraps a spawned job process into a {@link SupervisedJob}: enforces the max duration (not counting
 * suspended time), the suspended timeout and the limits `checkLimits` reports, cancels politely then
 * by force, and when the main process exits kills whatever it left behind (setsid daemons too, where
 * `processes` is its cgroup) before reporting the exit.
 */
export function superviseJob(
  deps: { child: ChildProcess; processes: JobProcesses },
  options: SuperviseJobOptions,
): SupervisedJob {
  const { child, processes } = deps;
  let reason: Exclude<ExitReason, "exit"> | undefined;
  let detail: string | undefined;
  let done = false;
  let suspended = false;
  let killTimer: NodeJS.Timeout | undefined;
  let limitTimer: NodeJS.Timeout | undefined;

  const stopTimers = () => {
    clock.stop();
    clearTimeout(killTimer);
    clearInterval(limitTimer);
  };

  // After a successful spawn the only 'error' left is a failed child.kill(), which is never used here;
  // a listener keeps a stray one from crashing the daemon.
  child.on("error", () => {});
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const exited = new Promise<JobExit>((resolve) => {
    child.once("exit", (exitCode, signal) => {
      done = true;
      stopTimers();
      void (async () => {
        try {
          await processes.killAll();
          const hit = await options.finalCheck?.({ exitCode, signal });
          if (hit !== undefined && reason === undefined) {
            reason = hit.reason;
            detail = hit.detail;
          }
        } catch {
          // Reported as it stands: the exit must settle.
        }
        // Let the last output arrive, but do not wait for pipes held open by a process that escaped.
        let drained: NodeJS.Timeout | undefined;
        await Promise.race([closed, new Promise<void>((r) => (drained = setTimeout(r, STDIO_DRAIN_MS)))]);
        clearTimeout(drained);
        child.stdout?.destroy();
        child.stderr?.destroy();
        resolve({
          exitCode,
          signal,
          reason: reason ?? "exit",
          startedAt: options.startedAt,
          endedAt: Date.now(),
          ...(detail === undefined ? {} : { detail }),
        });
      })();
    });
  });

  const thawIfSuspended = async () => {
    if (!suspended) return;
    suspended = false;
    await processes.thaw().catch(() => {});
  };

  const terminate = (why: Exclude<ExitReason, "exit">, message: string): Promise<JobExit> => {
    if (done || reason !== undefined) return exited;
    reason = why;
    detail = message;
    clock.stop();
    processes.terminate();
    // Stopped processes act on SIGTERM only once continued.
    void thawIfSuspended();
    killTimer = setTimeout(() => void processes.killAll().catch(() => {}), options.killGraceMs);
    return exited;
  };

  const stopForLimit = (hit: LimitHit) => {
    if (done || reason !== undefined) return;
    reason = hit.reason;
    detail = hit.detail;
    stopTimers();
    void processes.killAll().catch(() => {});
  };

  const clock = createRunClock({
    maxDurationMs: options.maxDurationMs,
    maxSuspendedMs: options.maxSuspendedMs,
    onTimeout: (message) => void terminate("timeout", message),
    onSuspendedTimeout: (message) => void terminate("suspended-timeout", message),
  });

  const { checkLimits } = options;
  if (checkLimits !== undefined) {
    let checking = false;
    limitTimer = setInterval(() => {
      if (checking || done) return;
      checking = true;
      checkLimits()
        .then((hit) => {
          if (hit !== undefined) stopForLimit(hit);
        })
        .catch(() => {})
        .finally(() => {
          checking = false;
        });
    }, LIMIT_POLL_MS);
    limitTimer.unref();
  }

  return {
    exited,
    get suspended() {
      return suspended;
    },
    cancel: (message = "cancelled") => terminate("cancelled", message),
    async suspend() {
      if (done || suspended || reason !== undefined) return;
      suspended = true;
      clock.pause();
      await processes.freeze().catch(() => {});
    },
    async resume() {
      if (done || !suspended || reason !== undefined) return;
      await thawIfSuspended();
      clock.resume();
    },
    stopForLimit,
  };
}
