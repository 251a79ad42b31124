import { readFileSync } from "node:fs";
import { listProcessTree } from "../../meter/listProcessTree.ts";
import { parseProcStat } from "../../meter/parseProcStat.ts";
import { KILL_ALL_TIMEOUT_MS } from "./constants.ts";
import { signalProcessTree } from "./signalProcessTree.ts";
import type { JobProcesses } from "./superviseJob.ts";

/** {@link JobProcesses} without a cgroup, plus what keeps track of the tree's members. */
export interface TreeProcesses extends JobProcesses {
  /** Remembers the tree's processes now (called on every usage reading), so they can be killed after they leave it. */
  track(pids: readonly number[]): void;
}

/**
 * Reaches a job's processes through its process tree, where no cgroup is available. For a
 * sandboxed job the pid namespace kills everything when the sandbox's pid 1 exits. Unsandboxed, a
 * process that left the tree (a `setsid` daemon reparented to init) is killed at the end only if a
 * usage reading saw it in the tree before (`track`): the cgroup runtime has no such gap.
 */
export function treeProcesses({
  rootPid,
  sandboxed,
}: {
  rootPid: number;
  sandboxed: boolean;
}): TreeProcesses {
  /** pid → start time, of processes seen in the tree. */
  const seen = new Map<number, bigint>();
  const track = (pids: readonly number[]) => {
    for (const pid of pids) {
      const start = startTime(pid);
      if (start !== undefined) seen.set(pid, start);
    }
  };
  const stillOurs = () => [...seen].filter(([pid, start]) => startTime(pid) === start).map(([pid]) => pid);
  return {
    track,
    terminate() {
      // Spare bubblewrap itself on SIGTERM: its death would SIGKILL the sandbox with no grace period.
      signalProcessTree(rootPid, "SIGTERM", { includeRootGroup: !sandboxed });
    },
    async killAll() {
      const deadline = Date.now() + KILL_ALL_TIMEOUT_MS;
      for (;;) {
        track(listProcessTree(rootPid).map((p) => p.pid));
        signalProcessTree(rootPid, "SIGKILL");
        try {
          process.kill(-rootPid, "SIGKILL");
        } catch {
          // ESRCH: the group is gone.
        }
        const live = stillOurs().filter((pid) => pid !== rootPid);
        for (const pid of live) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {}
        }
        if (live.length === 0 || Date.now() > deadline) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async freeze() {
      // A second pass catches processes that a not-yet-stopped process started during the first.
      signalProcessTree(rootPid, "SIGSTOP");
      signalProcessTree(rootPid, "SIGSTOP");
    },
    async thaw() {
      signalProcessTree(rootPid, "SIGCONT");
    },
  };
}

/** Start time of a live process; undefined when it is gone or a zombie. */
function startTime(pid: number): bigint | undefined {
  try {
    const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    return stat === undefined || stat.state === "Z" ? undefined : stat.starttime;
  } catch {
    return undefined;
  }
}
