import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { listProcessTree } from "../../../node/meter/listProcessTree.ts";
import { readProcessTree } from "../../../node/meter/readProcessTree.ts";
import { RunError } from "../../../node/run/errors.ts";
import { startProcessJob } from "../../../node/run/startProcessJob.ts";
import type { ProcessJobHandle } from "../../../node/run/types.ts";
import { isGone, NODE, reap, textSink, waitFor } from "./helpers.ts";

let handle: ProcessJobHandle | undefined;
afterEach(async () => {
  await reap(handle);
  if (handle !== undefined) rmSync(handle.workDir, { recursive: true, force: true });
  handle = undefined;
});

const quiet = { onWarning: () => {} };

describe.each(["none", "bwrap"] as const)("startProcessJob (sandbox %s)", (sandbox) => {
  const start = (command: string, args: string[], extra: object = {}) =>
    startProcessJob({ command, args, sandbox, maxDurationMs: 30_000, ...quiet, ...extra });

  it("runs in a fresh, empty work dir", async () => {
    const out = textSink();
    handle = await start("sh", ["-c", "pwd; ls -A; echo done > result.txt"], out);
    expect((await handle.exited).exitCode).toBe(0);
    expect(out.text()).toBe(`${handle.workDir}\n`);
    expect(readFileSync(join(handle.workDir, "result.txt"), "utf8")).toBe("done\n");
  });

  it("passes exit codes through", async () => {
    handle = await start("sh", ["-c", "exit 7"]);
    const exit = await handle.exited;
    expect(exit).toMatchObject({ exitCode: 7, signal: null, reason: "exit" });
    expect(exit.endedAt).toBeGreaterThanOrEqual(exit.startedAt);
  });

  it("streams stdout while the job runs, as Buffers", async () => {
    const out = textSink();
    const firstChunkAt: number[] = [];
    handle = await start(NODE, ["-e", "console.log('a'); setTimeout(() => console.log('b'), 400)"], {
      onStdout: (chunk: Buffer) => {
        firstChunkAt.push(Date.now());
        out.onStdout(chunk);
      },
    });
    const exit = await handle.exited;
    expect(out.text()).toBe("a\nb\n");
    expect(out.chunks.every((c) => Buffer.isBuffer(c))).toBe(true);
    expect(exit.endedAt - (firstChunkAt[0] ?? exit.endedAt)).toBeGreaterThanOrEqual(300);
  });

  it("gives the job a cleared environment with its GPUs", async () => {
    const out = textSink();
    handle = await start(NODE, ["-e", "process.stdout.write(JSON.stringify(process.env))"], {
      ...out,
      parentEnv: {
        PATH: process.env.PATH,
        HOME: "/nonexistent-home",
        LANG: "C.UTF-8",
        GRIDSPOT_PRIVATE_KEY: "0xsecret",
      },
      env: { JOB_VAR: "yes", CUDA_VISIBLE_DEVICES: "0,1,2,3" },
      gpuIndices: [0, 2],
      hidePaths: [],
    });
    await handle.exited;
    const env = JSON.parse(out.text()) as Record<string, string>;
    expect(env.GRIDSPOT_PRIVATE_KEY).toBeUndefined();
    expect(env).toMatchObject({
      PATH: process.env.PATH,
      HOME: "/nonexistent-home",
      LANG: "C.UTF-8",
      JOB_VAR: "yes",
      CUDA_VISIBLE_DEVICES: "0,2",
      CUDA_DEVICE_ORDER: "PCI_BUS_ID",
    });
  });

  it("sets CUDA_VISIBLE_DEVICES to the empty string for a CPU job", async () => {
    const out = textSink();
    handle = await start(
      NODE,
      ["-e", "process.stdout.write(JSON.stringify(process.env.CUDA_VISIBLE_DEVICES))"],
      out,
    );
    await handle.exited;
    expect(out.text()).toBe('""');
  });

  it("kills a job that runs past its max duration", async () => {
    const begun = Date.now();
    handle = await start("sleep", ["100"], { maxDurationMs: 300 });
    const exit = await handle.exited;
    expect(exit.reason).toBe("timeout");
    expect(exit.detail).toMatch(/maximum duration of 300 ms/);
    expect(Date.now() - begun).toBeLessThan(5_000);
  });

  it("cancel kills children and grandchildren, including ones in their own process group", async () => {
    handle = await start("sh", ["-c", 'sleep 100 & sh -c "sleep 100 & wait" & setsid sleep 100 & wait']);
    const root = handle.pid;
    // sh, sleep, sh, its sleep, setsid'd sleep (+ bubblewrap's two processes when sandboxed)
    const expected = sandbox === "bwrap" ? 7 : 5;
    expect(await waitFor(() => listProcessTree(root).length === expected)).toBe(true);
    const pids = listProcessTree(root).map((p) => p.pid);
    expect(new Set(listProcessTree(root).map((p) => p.pgid)).size).toBeGreaterThan(1);
    const exit = await handle.cancel("operator asked");
    expect(exit).toMatchObject({ reason: "cancelled", detail: "operator asked" });
    expect(await waitFor(() => pids.every(isGone))).toBe(true);
  });

  it("lets the job clean up on SIGTERM before the grace period ends", async () => {
    const out = textSink();
    handle = await start("sh", ["-c", "trap 'echo cleaning up; exit 3' TERM; echo ready; sleep 100 & wait"], {
      ...out,
      killGraceMs: 10_000,
    });
    expect(await waitFor(() => out.text().includes("ready"))).toBe(true);
    const asked = Date.now();
    const exit = await handle.cancel();
    expect(Date.now() - asked).toBeLessThan(5_000);
    expect(out.text()).toBe("ready\ncleaning up\n");
    expect(exit).toMatchObject({ exitCode: 3, reason: "cancelled" });
  });

  it("escalates to SIGKILL when the job ignores SIGTERM", async () => {
    handle = await start("sh", ["-c", "trap '' TERM; sleep 100 & wait"], { killGraceMs: 300 });
    const root = handle.pid;
    expect(await waitFor(() => listProcessTree(root).some((p) => p.comm === "sleep"))).toBe(true);
    const pids = listProcessTree(root).map((p) => p.pid);
    const asked = Date.now();
    const exit = await handle.cancel();
    expect(Date.now() - asked).toBeGreaterThanOrEqual(250);
    expect(exit.reason).toBe("cancelled");
    expect(await waitFor(() => pids.every(isGone))).toBe(true);
  });

  it("kills what the main process leaves behind when it exits", async () => {
    handle = await start("sh", ["-c", "sleep 100 & sleep 0.5; exit 0"]);
    const root = handle.pid;
    expect(await waitFor(() => listProcessTree(root).filter((p) => p.comm === "sleep").length === 2)).toBe(
      true,
    );
    const pids = listProcessTree(root).map((p) => p.pid);
    expect((await handle.exited).exitCode).toBe(0);
    expect(await waitFor(() => pids.every(isGone))).toBe(true);
  });

  it("suspends and resumes the whole tree, pausing the duration clock", async () => {
    handle = await start("sh", ["-c", `"${NODE}" -e "for(;;);" & wait`], { maxDurationMs: 1_500 });
    const root = handle.pid;
    expect(await waitFor(() => readProcessTree(root).cpuMs > 100n)).toBe(true);
    handle.suspend();
    expect(handle.suspended).toBe(true);
    const frozen = readProcessTree(root).cpuMs;
    await new Promise((r) => setTimeout(r, 1_600)); // past maxDurationMs: suspended time does not count
    expect(readProcessTree(root).cpuMs - frozen).toBeLessThanOrEqual(20n);
    expect(isGone(root)).toBe(false);
    handle.resume();
    expect(await waitFor(() => readProcessTree(root).cpuMs > frozen + 100n)).toBe(true);
    const exit = await handle.exited;
    expect(exit.reason).toBe("timeout");
  });

  it("kills a job suspended for longer than allowed, even though it is stopped", async () => {
    handle = await start("sh", ["-c", "sleep 100 & wait"], { maxSuspendedMs: 300 });
    await waitFor(() => listProcessTree(handle?.pid ?? 0).some((p) => p.comm === "sleep"));
    const pids = listProcessTree(handle.pid).map((p) => p.pid);
    handle.suspend();
    const exit = await handle.exited;
    expect(exit).toMatchObject({ reason: "suspended-timeout", detail: "suspended for more than 300 ms" });
    expect(await waitFor(() => pids.every(isGone))).toBe(true);
  });
});

describe("startProcessJob options", () => {
  it("fails clearly when the command does not exist (unsandboxed)", async () => {
    await expect(
      startProcessJob({ command: "/nonexistent/tool", sandbox: "none", maxDurationMs: 1_000, ...quiet }),
    ).rejects.toThrow(/cannot start "\/nonexistent\/tool": ENOENT/);
  });

  it("fails clearly when bwrap is required but missing, and warns when falling back", async () => {
    await expect(
      startProcessJob({
        command: "true",
        sandbox: "bwrap",
        bwrapCommand: "/nonexistent/bwrap",
        maxDurationMs: 1_000,
      }),
    ).rejects.toThrow(/sandbox "bwrap" required but unavailable/);
    const warnings: string[] = [];
    handle = await startProcessJob({
      command: "true",
      sandbox: "auto",
      bwrapCommand: "/nonexistent/bwrap",
      maxDurationMs: 1_000,
      onWarning: (m) => warnings.push(m),
    });
    expect(handle.sandbox).toBe("none");
    expect(warnings.join()).toMatch(/bubblewrap unavailable .*without a sandbox/);
    await handle.exited;
  });

  it("picks bubblewrap by default when it works here", async () => {
    handle = await startProcessJob({ command: "true", maxDurationMs: 1_000 });
    expect(handle.sandbox).toBe("bwrap");
    expect((await handle.exited).exitCode).toBe(0);
  });

  it("rejects bad options", async () => {
    const base = { command: "true", sandbox: "none" as const, maxDurationMs: 1_000, ...quiet };
    await expect(startProcessJob({ ...base, command: "" })).rejects.toThrow(RunError);
    await expect(startProcessJob({ ...base, maxDurationMs: -1 })).rejects.toThrow(/maxDurationMs/);
    await expect(startProcessJob({ ...base, gpuIndices: [0, 0] })).rejects.toThrow(/distinct/);
    await expect(startProcessJob({ ...base, env: { "BAD-NAME": "x" } })).rejects.toThrow(
      /invalid environment variable/,
    );
    await expect(startProcessJob({ ...base, workDir: "/nonexistent/dir" })).rejects.toThrow(
      /not an existing folder/,
    );
  });
});
