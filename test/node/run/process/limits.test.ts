import { skipWhen } from "../../../support/requires.ts";
import { cgroupsMissing } from "./helpers.ts";

skipWhen(cgroupsMissing);

import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { processTag } from "../../../../marketplace/process/processTag.ts";
import { DEFAULT_CGROUP_ROOT } from "../../../../node/run/process/constants.ts";
import { createJobCgroup } from "../../../../node/run/process/createJobCgroup.ts";
import { createProcessRuntime } from "../../../../node/run/process/createProcessRuntime.ts";
import { openCgroupParent } from "../../../../node/run/process/openCgroupParent.ts";
import type { JobRuntime } from "../../../../node/run/runtime.ts";
import { isGone, jobStarter, ROOMY, waitFor } from "./helpers.ts";
import { describeLimits } from "./limitsBehaviour.ts";

let runtime: JobRuntime;
beforeAll(async () => {
  if (cgroupsMissing !== undefined) return;
  runtime = await createProcessRuntime({ sandbox: "none", onWarning: () => {} });
});

describeLimits("none", () => runtime);

describe("process runtime cgroups", () => {
  const start = jobStarter(() => runtime);

  it("meters memory without page cache: 200 sleeps count far less than Σ RSS", async () => {
    const handle = await start("sh", ["-c", "for i in $(seq 200); do sleep 30 & done; wait"], {
      limits: { pids: 512 },
    });
    expect(await waitFor(async () => (await handle.sample()).hostPids.length >= 201, 10_000)).toBe(true);
    const sample = await handle.sample();
    const rssKiB = execFileSync("ps", ["-o", "rss=", "-p", sample.hostPids.join(",")], { encoding: "utf8" })
      .split("\n")
      .reduce((sum, line) => sum + (Number(line) || 0), 0);
    expect(Number(sample.memKiB)).toBeGreaterThan(0);
    expect(Number(sample.memKiB)).toBeLessThan(rssKiB / 3);
    expect(sample.pids).toBeGreaterThanOrEqual(201);
  });

  it("removes the job's cgroup with the job", async () => {
    const jobId = `removal-${process.pid}-${Date.now()}`;
    const handle = await start("true", [], { jobId });
    await handle.exited;
    const opened = openCgroupParent(DEFAULT_CGROUP_ROOT);
    if (!("parent" in opened)) throw new Error(opened.reason);
    const dir = opened.parent.version === 2 ? opened.parent.dir : opened.parent.dirs.pids;
    const name = `${processTag()}.${jobId}`;
    expect(existsSync(`${dir}/${name}`)).toBe(true);
    await handle.remove();
    expect(existsSync(`${dir}/${name}`)).toBe(false);
  });

  it("cleanupOrphans kills and removes a dead daemon's job cgroups, and leaves live ones", async () => {
    const opened = openCgroupParent(DEFAULT_CGROUP_ROOT);
    if (!("parent" in opened)) throw new Error(opened.reason);
    const { parent } = opened;
    const limits = { cpuCores: 1, memMiB: ROOMY.memMiB, pids: 16 };
    const orphan = createJobCgroup(parent, { name: `999999999-1.orphan-${process.pid}`, limits });
    const live = createJobCgroup(parent, { name: `${processTag()}.live-${process.pid}`, limits });
    const sleeper = spawn(
      "/bin/sh",
      ["-c", 'for f; do echo $$ > "$f"; done; exec setsid sleep 1000', "sh", ...orphan.procsFiles],
      { stdio: "ignore", detached: true },
    );
    sleeper.unref();
    try {
      expect(await waitFor(() => orphan.pids().length === 1)).toBe(true);
      const pid = orphan.pids()[0] as number;
      expect(await runtime.cleanupOrphans()).toBeGreaterThanOrEqual(1);
      expect(await waitFor(() => isGone(pid))).toBe(true);
      expect(orphan.dirs.some((d) => existsSync(d))).toBe(false);
      expect(live.dirs.every((d) => existsSync(d))).toBe(true);
    } finally {
      await orphan.remove();
      await live.remove();
    }
  });
});
