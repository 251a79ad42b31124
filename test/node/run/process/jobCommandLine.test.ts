import { describe, expect, it } from "vitest";
import { jobCommandLine } from "../../../../node/run/process/jobCommandLine.ts";

const base = {
  prlimit: "/usr/bin/prlimit",
  rlimits: { fsizeBytes: 1000 },
  command: "python3",
  args: ["train.py", "--epochs=3"],
} as const;

describe("jobCommandLine", () => {
  it("enters the cgroups first, then rlimits, the uid switch and bubblewrap, with the job's argv last", () => {
    const line = jobCommandLine({
      ...base,
      cgroupProcsFiles: ["/cg/memory/gridspot/j/cgroup.procs", "/cg/pids/gridspot/j/cgroup.procs"],
      rlimits: { fsizeBytes: 1000, asBytes: 2000, nproc: 30 },
      setpriv: { path: "/usr/bin/setpriv", uid: 65534, gid: 65534 },
      stage: {
        unshare: "/usr/bin/unshare",
        mount: "/usr/bin/mount",
        source: "/data/jobs/j",
        target: "/run/s/j",
      },
      launcher: { kind: "bwrap", bwrap: "/usr/bin/bwrap", argsFd: 3 },
    });
    expect(line.file).toBe("/bin/sh");
    const a = line.args;
    expect(a.slice(2, 6)).toEqual([
      "gridspot-job",
      "2",
      "/cg/memory/gridspot/j/cgroup.procs",
      "/cg/pids/gridspot/j/cgroup.procs",
    ]);
    const order = [
      "/usr/bin/unshare",
      "/usr/bin/prlimit",
      "/usr/bin/setpriv",
      "/usr/bin/bwrap",
      "python3",
    ].map((x) => a.indexOf(x));
    expect(order.every((i, k) => i > (order[k - 1] ?? 0))).toBe(true);
    expect(a).toEqual(
      expect.arrayContaining(["--fsize=1000:1000", "--core=0:0", "--as=2000:2000", "--nproc=30:30"]),
    );
    expect(a).toEqual(
      expect.arrayContaining(["--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs"]),
    );
    expect(a.slice(-6)).toEqual(["--args", "3", "--", "python3", "train.py", "--epochs=3"]);
  });

  it("without cgroups or root, starts prlimit directly and passes the environment through env -i", () => {
    const line = jobCommandLine({
      ...base,
      cgroupProcsFiles: [],
      launcher: { kind: "env", env: "/usr/bin/env", vars: { PATH: "/usr/bin", A: "1 2" } },
    });
    expect(line.file).toBe("/usr/bin/prlimit");
    expect(line.args).toEqual([
      "--fsize=1000:1000",
      "--core=0:0",
      "--",
      "/usr/bin/env",
      "-i",
      "--",
      "PATH=/usr/bin",
      "A=1 2",
      "python3",
      "train.py",
      "--epochs=3",
    ]);
  });
});
