import { readdirSync, readFileSync } from "node:fs";
import { type ProcStat, parseProcStat } from "./parseProcStat.ts";

/**
 * The process `rootPid` and all its live descendants, read from /proc (root first, then breadth
 * first). Scans every /proc/<pid>/stat for parent links, since /proc/<pid>/task/<tid>/children is
 * missing on kernels built without CONFIG_PROC_CHILDREN. Processes that exit during the scan are
 * skipped. Sees through pid namespaces (bubblewrap's sandbox), since host /proc shows host pids.
 * @returns an empty list when the root is gone.
 */
export function listProcessTree(rootPid: number): ProcStat[] {
  const byParent = new Map<number, ProcStat[]>();
  let root: ProcStat | undefined;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(name);
    if (stat === undefined) continue;
    if (stat.pid === rootPid) root = stat;
    const siblings = byParent.get(stat.ppid);
    if (siblings === undefined) byParent.set(stat.ppid, [stat]);
    else siblings.push(stat);
  }
  if (root === undefined) return [];
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    const current = tree[i];
    if (current !== undefined) tree.push(...(byParent.get(current.pid) ?? []));
  }
  return tree;
}

function readStat(pid: string): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}
