import { execFileSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { RunError } from "../../../../node/run/errors.ts";
import { createProcessRuntime } from "../../../../node/run/process/createProcessRuntime.ts";
import type { JobRuntime } from "../../../../node/run/runtime.ts";
import { jobStarter, NODE, runToEnd } from "./helpers.ts";
import { describeJobBehaviour } from "./jobBehaviour.ts";

process.env.GRIDSPOT_TEST_SECRET = "0xsecret";
let runtime: JobRuntime;
let rlimitsOnly: JobRuntime;
const warnings: string[] = [];
beforeAll(async () => {
  runtime = await createProcessRuntime({ sandbox: "none", onWarning: (m) => warnings.push(m) });
  rlimitsOnly = await createProcessRuntime({
    sandbox: "none",
    cgroupRoot: "/nonexistent/cgroup",
    onWarning: (m) => warnings.push(m),
  });
});

describeJobBehaviour("none", () => runtime);

describe("createProcessRuntime", () => {
  it("fails closed: auto or bwrap without a working bubblewrap throws, saying how to fix it", async () => {
    for (const sandbox of ["auto", "bwrap"] as const) {
      const created = createProcessRuntime({
        sandbox,
        bwrapCommand: "/nonexistent/bwrap",
        onWarning: () => {},
      });
      await expect(created).rejects.toThrow(RunError);
      await expect(created).rejects.toThrow(/apt-get install bubblewrap/);
      await expect(created).rejects.toThrow(/kernel\.unprivileged_userns_clone=1/);
      await expect(created).rejects.toThrow(/runtime\.sandbox: "none"/);
    }
  });

  it("runs unsandboxed only when told `none`, and warns", () => {
    expect(warnings.join("\n")).toMatch(/sandbox "none": jobs run without a sandbox/);
    expect(runtime.status()).toMatchObject({
      kind: "process",
      description: "no sandbox",
      gpus: { usable: true },
    });
  });

  it("refuses a root uid and an unknown sandbox mode", async () => {
    await expect(createProcessRuntime({ sandbox: "none", uid: 0, onWarning: () => {} })).rejects.toThrow(
      /not 0/,
    );
    await expect(createProcessRuntime({ sandbox: "docker" as "none", onWarning: () => {} })).rejects.toThrow(
      /unknown sandbox mode/,
    );
  });

  it("falls back to rlimits without a cgroup, and says so", async () => {
    expect(rlimitsOnly.status().limits).toBe("rlimits");
    expect(warnings.join("\n")).toMatch(/no cgroup for jobs .*limits are rlimits/);
    expect(await rlimitsOnly.cleanupOrphans()).toBe(0);
  });
});

describe("process runtime start", () => {
  const start = jobStarter(() => runtime);
  const startRlimits = jobStarter(() => rlimitsOnly);

  it("refuses images, bad options and missing commands", async () => {
    await expect(start("true", [], { image: "busybox" })).rejects.toThrow(
      "the process runtime cannot run images",
    );
    await expect(start("", [])).rejects.toThrow(/empty command/);
    await expect(start("true", [], { limits: { memMiB: 0 } })).rejects.toThrow(/memMiB/);
    await expect(start("true", [], { limits: { maxDurationMs: -1 } })).rejects.toThrow(/maxDurationMs/);
    await expect(start("true", [], { gpus: { indices: [0, 0], uuids: [] } })).rejects.toThrow(/distinct/);
    await expect(start("true", [], { env: { "BAD-NAME": "x" } })).rejects.toThrow(
      /invalid environment variable/,
    );
    await expect(start("true", [], { workDir: "/nonexistent/dir" })).rejects.toThrow(
      /not an existing folder/,
    );
    await expect(start("/nonexistent/tool", [])).rejects.toThrow(
      /cannot start "\/nonexistent\/tool": ENOENT/,
    );
  });

  it("runs the job as an unprivileged uid, never root, when the daemon is root", async (context) => {
    if (process.getuid?.() !== 0) return context.skip("needs a root daemon");
    const { stdout } = await runToEnd(start, "sh", [
      "-c",
      "id -u; id -G; cat /proc/$PPID/environ >/dev/null 2>&1 && echo read || echo denied",
    ]);
    expect(stdout).toBe("65534\n65534\ndenied\n");
  });

  it("meters memory as Σ PSS without a cgroup: 200 sleeps count their shared pages once", async () => {
    const handle = await startRlimits("sh", ["-c", "for i in $(seq 200); do sleep 30 & done; wait"], {
      limits: { pids: 512 },
    });
    let rssKiB = 0;
    const counted = async () => {
      const sample = await handle.sample();
      if (sample.hostPids.length < 201) return false;
      rssKiB = Number(
        execFileSync("ps", ["-o", "rss=", "-p", sample.hostPids.join(",")], { encoding: "utf8" })
          .split("\n")
          .reduce((sum, line) => sum + (Number(line) || 0), 0),
      );
      return true;
    };
    const deadline = Date.now() + 10_000;
    while (!(await counted()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const sample = await handle.sample();
    expect(sample.hostPids.length).toBeGreaterThanOrEqual(201);
    expect(Number(sample.memKiB)).toBeGreaterThan(0);
    expect(Number(sample.memKiB)).toBeLessThan(rssKiB / 3);
  });

  it("without a cgroup, watches memory: a job past its limit ends with reason oom", async () => {
    const { exit } = await runToEnd(
      startRlimits,
      NODE,
      ["-e", "const a = []; setInterval(() => a.push(Buffer.alloc(16 << 20, 1)), 20)"],
      { limits: { memMiB: 160 } },
    );
    expect(exit).toMatchObject({ reason: "oom" });
    expect(exit.detail).toMatch(/memory limit of 160 MiB/);
  });

  it("caps each file at the disk quota (RLIMIT_FSIZE) and ends the job with reason disk-quota", async () => {
    const { exit, handle } = await runToEnd(
      startRlimits,
      "sh",
      ["-c", "head -c 4194304 /dev/zero > big; echo $?"],
      {
        limits: { diskBytes: 1024 * 1024 },
      },
    );
    expect(exit.reason).toBe("disk-quota");
    const size = Number(execFileSync("stat", ["-c", "%s", `${handle.workDir}/big`], { encoding: "utf8" }));
    expect(size).toBeLessThanOrEqual(1024 * 1024 + 1);
  });
});
