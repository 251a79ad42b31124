import { describe, expect, it } from "vitest";
import { bwrapArgs } from "../../../../node/run/process/bwrapArgs.ts";
import type { HostLayout } from "../../../../node/run/process/readHostLayout.ts";

const layout: HostLayout = {
  rootDirs: [
    { path: "/usr", kind: "dir" },
    { path: "/bin", kind: "symlink", target: "usr/bin" },
    { path: "/lib64", kind: "symlink", target: "usr/lib64" },
  ],
  etc: [
    { path: "/etc/ld.so.cache", kind: "file" },
    { path: "/etc/localtime", kind: "symlink", target: "/usr/share/zoneinfo/Etc/UTC" },
    { path: "/etc/ssl/certs", kind: "dir" },
  ],
};

const args = bwrapArgs({
  layout,
  uid: 65534,
  gid: 65534,
  workDir: "/var/lib/gridspot/jobs/j1",
  workDirSource: "/run/gridspot-jobs/1-2.j1",
  dataFiles: [{ fd: 4, path: "/etc/passwd" }],
  devices: ["/dev/nvidia1", "/dev/nvidiactl"],
  hiddenProcDirs: ["/proc/driver/nvidia/gpus/0000:3b:00.0"],
  keepFiles: [{ source: "/opt/node/bin/node", path: "/opt/node/bin/node" }],
  tmpBytes: 1_048_576,
  env: { PATH: "/usr/bin", SECRET: "a b" },
});
const text = args.join(" ");
const at = (...sequence: string[]) => {
  for (let i = 0; i <= args.length - sequence.length; i++) {
    if (sequence.every((s, j) => args[i + j] === s)) return i;
  }
  return -1;
};

describe("bwrapArgs", () => {
  it("runs the job as an unprivileged uid in its own namespaces, without capabilities", () => {
    expect(at("--unshare-user", "--uid", "65534", "--gid", "65534")).toBeGreaterThanOrEqual(0);
    for (const flag of [
      "--disable-userns",
      "--unshare-pid",
      "--unshare-net",
      "--unshare-ipc",
      "--unshare-uts",
    ]) {
      expect(args).toContain(flag);
    }
    expect(args).toContain("--unshare-cgroup-try");
    expect(args).toContain("--die-with-parent");
    expect(args).toContain("--new-session");
    expect(at("--cap-drop", "ALL")).toBeGreaterThanOrEqual(0);
  });

  it("shows /usr and its merged symlinks, never the host root, /run, homes or the data dir", () => {
    expect(at("--ro-bind", "/usr", "/usr")).toBeGreaterThanOrEqual(0);
    expect(at("--symlink", "usr/bin", "/bin")).toBeGreaterThanOrEqual(0);
    expect(at("--ro-bind", "/", "/")).toBe(-1);
    // The staging mount is only where bubblewrap finds the work dir on the host.
    expect(text.replace(" /run/gridspot-jobs/1-2.j1 ", " ")).not.toMatch(/ \/(run|var\/run|root|home)( |\/)/);
    expect(args.filter((a) => a.startsWith("/var/lib/gridspot"))).toEqual([
      "/var/lib/gridspot/jobs/j1",
      "/var/lib/gridspot/jobs/j1",
    ]);
  });

  it("builds a minimal /etc with the job user, private size-limited /tmp and /dev/shm, only the given devices", () => {
    expect(at("--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache")).toBeGreaterThanOrEqual(0);
    expect(at("--symlink", "/usr/share/zoneinfo/Etc/UTC", "/etc/localtime")).toBeGreaterThanOrEqual(0);
    expect(at("--dir", "/etc/ssl")).toBeLessThan(at("--ro-bind", "/etc/ssl/certs", "/etc/ssl/certs"));
    expect(at("--ro-bind-data", "4", "/etc/passwd")).toBeGreaterThanOrEqual(0);
    expect(at("--size", "1048576", "--tmpfs", "/tmp")).toBeGreaterThanOrEqual(0);
    expect(at("--size", "1048576", "--tmpfs", "/dev/shm")).toBeGreaterThanOrEqual(0);
    expect(at("--dev-bind-try", "/dev/nvidia1", "/dev/nvidia1")).toBeGreaterThan(at("--dev", "/dev"));
    expect(at("--tmpfs", "/proc/driver/nvidia/gpus/0000:3b:00.0")).toBeGreaterThan(at("--proc", "/proc"));
    expect(at("--ro-bind", "/opt/node/bin/node", "/opt/node/bin/node")).toBeGreaterThanOrEqual(0);
  });

  it("binds the work dir read-write as the cwd after everything else, then makes the root read-only", () => {
    const bind = at("--bind", "/run/gridspot-jobs/1-2.j1", "/var/lib/gridspot/jobs/j1");
    expect(bind).toBeGreaterThan(at("--tmpfs", "/tmp"));
    expect(at("--remount-ro", "/")).toBeGreaterThan(bind);
    expect(at("--chdir", "/var/lib/gridspot/jobs/j1")).toBeGreaterThan(bind);
  });

  it("starts the job from an empty environment with exactly its variables", () => {
    const clear = args.indexOf("--clearenv");
    expect(clear).toBeGreaterThanOrEqual(0);
    expect(at("--setenv", "SECRET", "a b")).toBeGreaterThan(clear);
    expect(args.filter((a) => a === "--setenv")).toHaveLength(2);
  });
});
