import { listProcessTree } from "../../meter/listProcessTree.ts";

/**
 * Sends `signal` to every process group in the tree under `rootPid` (the root's own group, plus any
 * group a descendant started, e.g. bubblewrap's sandbox session). Processes gone meanwhile are
 * ignored. With `includeRootGroup: false` the root's group is spared: for a sandboxed job that is
 * bubblewrap itself, whose death would SIGKILL the whole sandbox before the job could clean up.
 * @returns the number of groups signalled.
 */
export function signalProcessTree(
  rootPid: number,
  signal: NodeJS.Signals,
  { includeRootGroup = true }: { includeRootGroup?: boolean } = {},
): number {
  const tree = listProcessTree(rootPid);
  // A detached root leads its own group, so that group id is its pid even after it has exited.
  const rootGroup = tree[0]?.pgid ?? rootPid;
  const groups = new Set(tree.map((p) => p.pgid));
  if (includeRootGroup) groups.add(rootGroup);
  else groups.delete(rootGroup);
  let signalled = 0;
  for (const group of groups) {
    if (group <= 1) continue;
    try {
      process.kill(-group, signal);
      signalled++;
    } catch {
      // ESRCH: the group is already gone.
    }
  }
  return signalled;
}
