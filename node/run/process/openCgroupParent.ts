import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { CGROUP_PARENT, CGROUP_V1_CONTROLLERS, CGROUP_V2_CONTROLLERS } from "./constants.ts";
import type { CgroupParent } from "./types.ts";

/**
 * Finds the cgroup hierarchy mounted at `root` and makes the `gridspot` folder job cgroups go in:
 * v2 (`root/cgroup.controllers` exists) needs the memory, cpu and pids controllers, which it enables
 * for `root/gridspot`'s children; v1 needs the memory, cpu, cpuacct and pids hierarchies under
 * `root` (co-mounted ones count once), and uses `freezer` when mounted. It lives at the top of the
 * hierarchy, like Docker's, so that a restarted daemon finds its predecessor's job cgroups.
 * @returns why not (no hierarchy, missing controller, no permission: a non-root daemon) instead of throwing.
 */
export function openCgroupParent(root: string): { parent: CgroupParent } | { reason: string } {
  try {
    if (existsSync(join(root, "cgroup.controllers"))) return openV2(root);
    return openV1(root);
  } catch (error) {
    return { reason: `cannot use the cgroups at ${root}: ${(error as Error).message}` };
  }
}

function openV2(root: string): { parent: CgroupParent } | { reason: string } {
  const available = words(readFileSync(join(root, "cgroup.controllers"), "utf8"));
  const missing = CGROUP_V2_CONTROLLERS.filter((c) => !available.has(c));
  if (missing.length > 0)
    return { reason: `cgroup v2 at ${root} lacks the ${missing.join(", ")} controller` };
  const dir = join(root, CGROUP_PARENT);
  mkdirSync(dir, { recursive: true });
  accessSync(dir, constants.W_OK);
  enableControllers(root);
  enableControllers(dir);
  const enabled = words(readFileSync(join(dir, "cgroup.subtree_control"), "utf8"));
  const off = CGROUP_V2_CONTROLLERS.filter((c) => !enabled.has(c));
  if (off.length > 0) return { reason: `cannot enable the ${off.join(", ")} controller for ${dir}` };
  return { parent: { version: 2, dir } };
}

function enableControllers(dir: string): void {
  const file = join(dir, "cgroup.subtree_control");
  const enabled = words(readFileSync(file, "utf8"));
  for (const controller of CGROUP_V2_CONTROLLERS) {
    if (!enabled.has(controller)) writeFileSync(file, `+${controller}`);
  }
}

function openV1(root: string): { parent: CgroupParent } | { reason: string } {
  const found = new Map<string, string>();
  for (const controller of [...CGROUP_V1_CONTROLLERS, "freezer"]) {
    const hierarchy = join(root, controller);
    if (!existsSync(join(hierarchy, "cgroup.procs"))) continue;
    // Co-mounted controllers (cpu,cpuacct) share one folder: resolve so it is used once.
    found.set(controller, join(realpathSync(hierarchy), CGROUP_PARENT));
  }
  const missing = CGROUP_V1_CONTROLLERS.filter((c) => !found.has(c));
  if (missing.length === CGROUP_V1_CONTROLLERS.length) return { reason: `no cgroup hierarchy at ${root}` };
  if (missing.length > 0) return { reason: `cgroup v1 at ${root} lacks the ${missing.join(", ")} hierarchy` };
  for (const dir of new Set(found.values())) {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK); // made by a root daemon before, but not ours to write
  }
  const dirs = {
    memory: found.get("memory") as string,
    cpu: found.get("cpu") as string,
    cpuacct: found.get("cpuacct") as string,
    pids: found.get("pids") as string,
  };
  const freezer = found.get("freezer");
  return { parent: { version: 1, dirs: freezer === undefined ? dirs : { ...dirs, freezer } } };
}

function words(text: string): Set<string> {
  return new Set(text.split(/\s+/).filter((w) => w !== ""));
}
