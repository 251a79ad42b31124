import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { processTag } from "../../../../marketplace/process/processTag.ts";
import { cleanupJobCgroups } from "../../../../node/run/process/cleanupJobCgroups.ts";
import { createJobCgroup } from "../../../../node/run/process/createJobCgroup.ts";
import type { CgroupParent } from "../../../../node/run/process/types.ts";

// The kernel's cgroup files, imitated by plain files: what is written and how it is read.
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "gridspot-fake-cgroup-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const limits = { cpuCores: 1.5, memMiB: 64, pids: 100 };
const read = (...path: string[]) => readFileSync(join(root, ...path), "utf8");

describe("cgroup v2 job cgroups", () => {
  const parent = (): CgroupParent => {
    mkdirSync(join(root, "gridspot"));
    return { version: 2, dir: join(root, "gridspot") };
  };

  it("writes memory (no swap), CPU bandwidth and pids limits", () => {
    const p = parent();
    writeFileSync(join(root, "gridspot", "cgroup.freeze"), "0");
    const cgroup = createJobCgroup(p, { name: "1-2.job", limits, pidsOverhead: 2 });
    expect(read("gridspot/1-2.job/memory.max")).toBe(String(64 * 1024 * 1024));
    expect(read("gridspot/1-2.job/cpu.max")).toBe("150000 100000");
    expect(read("gridspot/1-2.job/pids.max")).toBe("102");
    expect(cgroup.procsFiles).toEqual([join(root, "gridspot/1-2.job/cgroup.procs")]);
    expect(cgroup.canFreeze).toBe(true);
  });

  it("reads usage without page cache and the limits hit", () => {
    const cgroup = createJobCgroup(parent(), { name: "1-2.job", limits });
    const at = (file: string, text: string) => writeFileSync(join(root, "gridspot/1-2.job", file), text);
    at("memory.current", String(50 * 1024 * 1024));
    at("memory.stat", `anon 1000\nfile ${20 * 1024 * 1024}\nkernel 5\n`);
    at("cpu.stat", "usage_usec 2500000\nuser_usec 2000000\n");
    at("pids.current", "7\n");
    at("cgroup.procs", "101\n102\n");
    at("memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n");
    at("pids.events", "max 3\n");
    expect(cgroup.usage()).toEqual({ cpuMs: 2500n, memKiB: 30n * 1024n, pids: 7, hostPids: [101, 102] });
    expect(cgroup.limitHits()).toMatchObject({ oomKills: 1, pidsMax: 3 });
  });

  it("refuses to make a cgroup that exists, and leaves it alone", () => {
    const p = parent();
    createJobCgroup(p, { name: "1-2.job", limits });
    expect(() => createJobCgroup(p, { name: "1-2.job", limits })).toThrow(/cannot make the job's cgroup/);
    expect(readdirSync(join(root, "gridspot"))).toEqual(["1-2.job"]);
  });

  it("cleanupJobCgroups removes only the cgroups of daemons no longer running", async () => {
    const p = parent();
    for (const name of ["999999999-1.dead", `${processTag()}.alive`, "unrelated"]) {
      mkdirSync(join(root, "gridspot", name));
    }
    expect(await cleanupJobCgroups(p)).toBe(1);
    expect(readdirSync(join(root, "gridspot")).sort()).toEqual([`${processTag()}.alive`, "unrelated"].sort());
  });
});

describe("cgroup v1 job cgroups", () => {
  const parent = (): CgroupParent => {
    const dirs = { memory: "", cpu: "", cpuacct: "", pids: "", freezer: "" };
    for (const controller of Object.keys(dirs) as (keyof typeof dirs)[]) {
      dirs[controller] = join(root, controller, "gridspot");
      mkdirSync(dirs[controller], { recursive: true });
    }
    return { version: 1, dirs };
  };

  it("writes limits into each controller's folder, and lists every cgroup.procs to enter", () => {
    const cgroup = createJobCgroup(parent(), { name: "1-2.job", limits });
    expect(read("memory/gridspot/1-2.job/memory.limit_in_bytes")).toBe(String(64 * 1024 * 1024));
    expect(read("memory/gridspot/1-2.job/memory.swappiness")).toBe("0");
    expect(read("cpu/gridspot/1-2.job/cpu.cfs_quota_us")).toBe("150000");
    expect(read("cpu/gridspot/1-2.job/cpu.cfs_period_us")).toBe("100000");
    expect(read("pids/gridspot/1-2.job/pids.max")).toBe("100");
    expect(cgroup.procsFiles).toHaveLength(5);
    expect(cgroup.canFreeze).toBe(true);
  });

  it("reads usage (without page cache), OOM kills and refused forks", () => {
    const cgroup = createJobCgroup(parent(), { name: "1-2.job", limits });
    const at = (controller: string, file: string, text: string) =>
      writeFileSync(join(root, controller, "gridspot/1-2.job", file), text);
    at("memory", "memory.usage_in_bytes", String(40 * 1024 * 1024));
    at(
      "memory",
      "memory.stat",
      `cache 1\nrss 2\ntotal_cache ${10 * 1024 * 1024}\ntotal_rss ${30 * 1024 * 1024}\n`,
    );
    at("cpuacct", "cpuacct.usage", "3000000000");
    at("pids", "pids.current", "4");
    at("pids", "cgroup.procs", "7\n");
    at("memory", "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    at("memory", "memory.failcnt", "9");
    at("pids", "pids.events", "max 0\n");
    expect(cgroup.usage()).toEqual({ cpuMs: 3000n, memKiB: 30n * 1024n, pids: 4, hostPids: [7] });
    expect(cgroup.limitHits()).toEqual({ oomKills: 2, oomKillsUnknown: false, memFailcnt: 9, pidsMax: 0 });
  });
});
