import { readdirSync } from "node:fs";
import { processTag } from "../../../marketplace/process/processTag.ts";
import { jobCgroup } from "./jobCgroup.ts";
import type { CgroupParent } from "./types.ts";

/** Job cgroup names: `<daemon pid>-<daemon start time>.<job id>` (see processTag). */
const JOB_CGROUP_NAME = /^(\d+)-(\d+)\./;

/**
 * Kills and removes the job cgroups under `parent` whose daemon is gone (a crashed or killed
 * predecessor's): a cgroup of a live daemon, this one or another on the same host, is left alone.
 * @returns how many it removed.
 */
export async function cleanupJobCgroups(parent: CgroupParent): Promise<number> {
  const parentDirs = parent.version === 2 ? [parent.dir] : [...new Set(Object.values(parent.dirs))];
  const names = new Set<string>();
  for (const dir of parentDirs) {
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      continue;
    }
    for (const name of entries) names.add(name);
  }
  let removed = 0;
  for (const name of names) {
    const match = JOB_CGROUP_NAME.exec(name);
    if (match === null) continue;
    if (processTag(Number(match[1])) === `${match[1]}-${match[2]}`) continue;
    const cgroup = jobCgroup(parent, name);
    await cgroup.killAll();
    await cgroup.remove();
    removed++;
  }
  return removed;
}
