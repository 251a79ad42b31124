import type { ChildProcess } from "node:child_process";
import { performance } from "node:perf_hooks";
import { STDIO_DRAIN_MS } from "./constants.ts";
import { signalProcessTree } from "./signalProcessTree.ts";
import type { ExitReason, JobExit, ProcessJobHandle } from "./types.ts";

/** What {@link superviseJob} enforces on a started job. */
export interface SuperviseJobOptions {
  workDir: string;
  sandbox: "bwrap" | "none";
  /** Running time allowed; time spent suspended does not count. */
  maxDurationMs: number;
  /** Suspended time allowed before the job is killed; unlimited when absent. */
  maxSuspendedMs?: number;
  killGraceMs: number;
  startedAt: number;
}

/**
 * Wraps a spawned, detached job process into a {@link ProcessJobHandle}: enforces the max
 * duration, suspends and resumes the whole process tree, cancels with SIGTERM then SIGKILL, and
 * when the main process exits kills whatever it left behind in its group (the sandbox's pid
 * namespace does that by itself).
 */
export function superviseJob(child: ChildProcess, options: SuperviseJobOptions): ProcessJobHandle {
  const pid = child.pid;
  if (pid === undefined) throw new Error("superviseJob needs a started process");
  const sandboxed = options.sandbox === "bwrap";
  let reason: Exclude<ExitReason, "exit"> | undefined;
  let detail: string | undefined;
  let done = false;
  let suspended = false;
  let runBudgetMs = options.maxDurationMs;
  let runningSince = performance.now();
  let durationTimer: NodeJS.Timeout | undefined;
  let suspendTimer: NodeJS.Timeout | undefined;
  let killTimer: NodeJS.Timeout | undefined;

  // After a successful spawn the only 'error' left is a failed child.kill(), which is never used here;
  // a listener keeps a stray one from crashing the daemon.
  child.on("error", () => {});
  const exited = new Promise<JobExit>((resolve) => {
    child.once("exit", (exitCode, signal) => {
      done = true;
      clearTimeout(durationTimer);
      clearTimeout(suspendTimer);
      clearTimeout(killTimer);
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // ESRCH: nothing was left behind.
      }
      const result: JobExit = {
        exitCode,
        signal,
        reason: reason ?? "exit",
        startedAt: options.startedAt,
        endedAt: Date.now(),
        ...(detail === undefined ? {} : { detail }),
      };
      // Let the last output arrive, but do not wait for pipes held open by a process that escaped.
      const drained = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        resolve(result);
      }, STDIO_DRAIN_MS);
      child.once("close", () => {
        clearTimeout(drained);
        resolve(result);
      });
    });
  });

  const terminate = (why: Exclude<ExitReason, "exit">, message: string): Promise<JobExit> => {
    if (done || reason !== undefined) return exited;
    reason = why;
    detail = message;
    clearTimeout(durationTimer);
    clearTimeout(suspendTimer);
    // Spare bubblewrap itself on SIGTERM: its death would SIGKILL the sandbox with no grace period.
    signalProcessTree(pid, "SIGTERM", { includeRootGroup: !sandboxed });
    if (suspended) {
      // Stopped processes act on SIGTERM only once continued.
      signalProcessTree(pid, "SIGCONT");
      suspended = false;
    }
    killTimer = setTimeout(() => signalProcessTree(pid, "SIGKILL"), options.killGraceMs);
    return exited;
  };

  const startDurationClock = () => {
    runningSince = performance.now();
    durationTimer = setTimeout(
      () => void terminate("timeout", `ran past its maximum duration of ${options.maxDurationMs} ms`),
      Math.max(0, runBudgetMs),
    );
  };
  startDurationClock();

  return {
    pid,
    workDir: options.workDir,
    sandbox: options.sandbox,
    exited,
    get suspended() {
      return suspended;
    },
    cancel: (message = "cancelled") => terminate("cancelled", message),
    suspend() {
      if (done || suspended || reason !== undefined) return;
      // A second pass catches processes that a not-yet-stopped process started during the first.
      signalProcessTree(pid, "SIGSTOP");
      signalProcessTree(pid, "SIGSTOP");
      suspended = true;
      clearTimeout(durationTimer);
      runBudgetMs -= performance.now() - runningSince;
      if (options.maxSuspendedMs !== undefined) {
        const limit = options.maxSuspendedMs;
        suspendTimer = setTimeout(
          () => void terminate("suspended-timeout", `suspended for more than ${limit} ms`),
          limit,
        );
      }
    },
    resume() {
      if (done || !suspended) return;
      signalProcessTree(pid, "SIGCONT");
      suspended = false;
      clearTimeout(suspendTimer);
      startDurationClock();
    },
  };
}
