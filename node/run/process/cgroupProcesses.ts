import { readFileSync } from "node:fs";
import { parseProcStat } from "../../meter/parseProcStat.ts";
import type { JobProcesses } from "./superviseJob.ts";
import type { JobCgroup } from "./types.ts";

/**
 * Reaches a job's processes through its cgroup: every process it started is there, including the
 * ones that left its process tree (`setsid` daemons reparented to init). Freezes with the cgroup
 * freezer where there is one, else SIGSTOP/SIGCONT to each process.
 */
export function cgroupProcesses(
  cgroup: JobCgroup,
  { rootPid, sandboxed }: { rootPid: number; sandboxed: boolean },
): JobProcesses {
  const signalAll = (signal: NodeJS.Signals, spare: ReadonlySet<number> = new Set()) => {
    for (const pid of cgroup.pids()) {
      if (spare.has(pid)) continue;
      try {
        process.kill(pid, signal);
      } catch {
        // ESRCH: gone meanwhile.
      }
    }
  };
  return {
    terminate() {
      // bubblewrap's monitor (the root) and the sandbox's pid 1 (its only child) die on SIGTERM and
      // take the sandbox with them at once: spare them, they exit when the job does.
      const spare = new Set<number>();
      if (sandboxed) {
        spare.add(rootPid);
        for (const pid of cgroup.pids()) if (parentOf(pid) === rootPid) spare.add(pid);
      }
      signalAll("SIGTERM", spare);
    },
    async killAll() {
      await cgroup.killAll();
    },
    async freeze() {
      if (cgroup.canFreeze) return cgroup.freeze();
      // A second pass catches processes that a not-yet-stopped process started during the first.
      signalAll("SIGSTOP");
      signalAll("SIGSTOP");
    },
    async thaw() {
      if (cgroup.canFreeze) return cgroup.thaw();
      signalAll("SIGCONT");
    },
  };
}

function parentOf(pid: number): number | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"))?.ppid;
  } catch {
    return undefined;
  }
}
