import { access, readFile } from "node:fs/promises";
import { join } from "node:path";

/** One controller's folder of a container's cgroup on the host. */
export interface CgroupDir {
  dir: string;
  /** cgroup v2 file names (`cpu.stat`, `memory.current`) rather than v1 ones (`cpuacct.usage`…). */
  v2: boolean;
}

/** Where a container's usage and limit counters live on the host; a controller not found is absent. */
export interface ContainerCgroups {
  cpu?: CgroupDir;
  memory?: CgroupDir;
  pids?: CgroupDir;
}

/** The v1 controller each reading needs, and the v2 file that shows the controller is enabled. */
const CONTROLLERS = {
  cpu: { v1: "cpuacct", v2File: "cpu.stat" },
  memory: { v1: "memory", v2File: "memory.current" },
  pids: { v1: "pids", v2File: "pids.current" },
} as const;

/**
 * Finds the cgroup folders of the process `pid` (a container's init) on this host, whatever the
 * layout: cgroup v1 (`/sys/fs/cgroup/pids/docker/<id>`), v2 with the systemd driver
 * (`/sys/fs/cgroup/system.slice/docker-<id>.scope`) or cgroupfs (`/sys/fs/cgroup/docker/<id>`), or
 * hybrid. It reads the process's `/proc/<pid>/cgroup` and maps each path through the cgroup mounts
 * in `/proc/self/mountinfo`, so it needs no guess about the driver. Only a cgroup whose path holds
 * `containerId` is taken (every Docker driver names it so): a pid that exited, or was reused, is not
 * mistaken for the container. Never rejects: an empty answer means none was found (the container
 * stopped already, or the cgroup fs is not visible here).
 */
export async function findContainerCgroups(
  pid: number,
  containerId: string,
  procRoot = "/proc",
): Promise<ContainerCgroups> {
  const [mountinfo, membership] = await Promise.all([
    readFile(join(procRoot, "self/mountinfo"), "utf8").catch(() => ""),
    readFile(join(procRoot, String(pid), "cgroup"), "utf8").catch(() => ""),
  ]);
  const mounts = parseMounts(mountinfo);
  const memberships = membership
    .split("\n")
    .map((line) => /^(\d+):([^:]*):(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ controllers: (m[2] as string).split(","), path: m[3] as string }))
    // A pid that exited (or was reused) shows another cgroup: only the container's own will do.
    .filter((m) => m.path.includes(containerId));

  const result: ContainerCgroups = {};
  for (const [key, controller] of Object.entries(CONTROLLERS) as Array<
    [keyof ContainerCgroups, (typeof CONTROLLERS)[keyof typeof CONTROLLERS]]
  >) {
    const v1Mount = mounts.find((m) => !m.v2 && m.options.includes(controller.v1));
    const v1Member = memberships.find((m) => m.controllers.includes(controller.v1));
    if (v1Mount !== undefined && v1Member !== undefined) {
      const dir = under(v1Mount, v1Member.path);
      if (dir !== undefined && (await exists(dir))) result[key] = { dir, v2: false };
      continue;
    }
    const v2Mount = mounts.find((m) => m.v2);
    const v2Member = memberships.find((m) => m.controllers.length === 1 && m.controllers[0] === "");
    if (v2Mount === undefined || v2Member === undefined) continue;
    const dir = under(v2Mount, v2Member.path);
    if (dir !== undefined && (await exists(join(dir, controller.v2File)))) result[key] = { dir, v2: true };
  }
  return result;
}

interface CgroupMount {
  root: string;
  mountPoint: string;
  v2: boolean;
  options: string[];
}

function parseMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    const fsType = fields[dash + 1];
    if (dash < 0 || (fsType !== "cgroup" && fsType !== "cgroup2")) continue;
    mounts.push({
      root: unescapeMountField(fields[3] ?? "/"),
      mountPoint: unescapeMountField(fields[4] ?? ""),
      v2: fsType === "cgroup2",
      options: (fields[dash + 3] ?? "").split(","),
    });
  }
  return mounts;
}

/** The host folder of cgroup `path` under `mount`, or undefined when the mount does not show it. */
function under(mount: CgroupMount, path: string): string | undefined {
  if (mount.root === "/") return join(mount.mountPoint, path);
  if (path !== mount.root && !path.startsWith(`${mount.root}/`)) return undefined;
  return join(mount.mountPoint, path.slice(mount.root.length));
}

function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
