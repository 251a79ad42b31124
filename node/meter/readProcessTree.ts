import { listProcessTree } from "./listProcessTree.ts";
import { procConstants } from "./procConstants.ts";

/** One reading of a process tree's resource use. */
export interface ProcessTreeSample {
  /** Live pids in the tree, root first; empty when the root is gone. */
  pids: number[];
  /** Σ (utime + stime + cutime + cstime) of live processes, in ms (floored once, after summing). */
  cpuMs: bigint;
  /** Σ resident set size of live processes, KiB (shared pages count once per process). */
  rssKiB: bigint;
  /** The root's start time in clock ticks after boot, to detect pid reuse; undefined when gone. */
  rootStartTime: bigint | undefined;
}

/**
 * Reads the cumulative CPU time and current resident memory of `rootPid` and all its descendants.
 * CPU time includes reaped children (cutime/cstime), so it survives a child's exit as long as its
 * parent is in the tree; it drops when a process leaves the tree (callers keep it monotonic).
 */
export function readProcessTree(rootPid: number): ProcessTreeSample {
  const { clockTicks, pageKiB } = procConstants();
  const tree = listProcessTree(rootPid);
  let ticks = 0n;
  let rssPages = 0n;
  for (const p of tree) {
    ticks += p.utime + p.stime + p.cutime + p.cstime;
    rssPages += p.rssPages;
  }
  return {
    pids: tree.map((p) => p.pid),
    cpuMs: (ticks * 1000n) / clockTicks,
    rssKiB: rssPages * pageKiB,
    rootStartTime: tree[0]?.starttime,
  };
}
