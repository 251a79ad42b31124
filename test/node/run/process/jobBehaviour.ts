import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { listProcessTree } from "../../../../node/meter/listProcessTree.ts";
import type { JobHandle, JobRuntime } from "../../../../node/run/runtime.ts";
import { isGone, jobStarter, NODE, runToEnd, textSink, waitFor } from "./helpers.ts";

/** Every host pid of a job: its cgroup's, or its process tree's. */
export async function jobPids(handle: JobHandle): Promise<number[]> {
  const fromSample = (await handle.sample()).hostPids;
  const fromTree = listProcessTree(Number(handle.id)).map((p) => p.pid);
  return [...new Set([...fromSample, ...fromTree])];
}

/** Pids of the job's processes named `comm`. */
async function named(handle: JobHandle, comm: string): Promise<number[]> {
  const pids = await jobPids(handle);
  return pids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm;
    } catch {
      return false;
    }
  });
}

/**
 * What every process runtime job does, sandboxed or not: its work dir, exit codes, output, a
 * cleared environment with its GPUs, timeout, cancel, suspend and resume. `runtime` is read when a
 * test runs (the file's hook makes it).
 */
export function describeJobBehaviour(sandbox: "none" | "bwrap", runtime: () => JobRuntime): void {
  describe(`process runtime jobs (sandbox ${sandbox})`, () => {
    const start = jobStarter(runtime);

    it("runs in its work dir, which it can write and the daemon can read", async () => {
      const { stdout, exit, handle } = await runToEnd(start, "sh", [
        "-c",
        "pwd; ls -A; echo done > result.txt",
      ]);
      expect(exit).toMatchObject({ exitCode: 0, reason: "exit" });
      expect(stdout).toBe(`${handle.workDir}\n`);
      expect(readFileSync(`${handle.workDir}/result.txt`, "utf8")).toBe("done\n");
      expect(handle).toMatchObject({ runtime: "process", sandbox });
    });

    it("passes exit codes through", async () => {
      const { exit } = await runToEnd(start, "sh", ["-c", "exit 7"]);
      expect(exit).toMatchObject({ exitCode: 7, signal: null, reason: "exit" });
      expect(exit.endedAt).toBeGreaterThanOrEqual(exit.startedAt);
    });

    it("streams stdout while the job runs, as Buffers", async () => {
      const out = textSink();
      const at: number[] = [];
      const handle = await start(NODE, ["-e", "console.log('a'); setTimeout(() => console.log('b'), 400)"], {
        onStdout: (chunk: Buffer) => {
          at.push(Date.now());
          out.onStdout(chunk);
        },
      });
      const exit = await handle.exited;
      expect(out.text()).toBe("a\nb\n");
      expect(out.chunks.every((c) => Buffer.isBuffer(c))).toBe(true);
      expect(exit.endedAt - (at[0] ?? exit.endedAt)).toBeGreaterThanOrEqual(300);
    });

    it("gives the job a cleared environment, its work dir as HOME, and its GPUs", async () => {
      const { stdout, handle } = await runToEnd(
        start,
        NODE,
        ["-e", "process.stdout.write(JSON.stringify(process.env))"],
        {
          env: { JOB_VAR: "yes", CUDA_VISIBLE_DEVICES: "0,1,2,3" },
          gpus: { indices: [0, 2], uuids: [] },
        },
      );
      const env = JSON.parse(stdout) as Record<string, string>;
      expect(env.GRIDSPOT_TEST_SECRET).toBeUndefined();
      expect(env).toMatchObject({
        PATH: process.env.PATH,
        HOME: handle.workDir,
        JOB_VAR: "yes",
        // Sandboxed, only the assigned GPUs exist, and CUDA numbers them from 0.
        CUDA_VISIBLE_DEVICES: sandbox === "bwrap" ? "0,1" : "0,2",
        CUDA_DEVICE_ORDER: "PCI_BUS_ID",
      });
    });

    it("sets CUDA_VISIBLE_DEVICES to the empty string for a CPU job", async () => {
      const { stdout } = await runToEnd(start, NODE, [
        "-e",
        "process.stdout.write(JSON.stringify(process.env.CUDA_VISIBLE_DEVICES))",
      ]);
      expect(stdout).toBe('""');
    });

    it("kills a job that runs past its max duration", async () => {
      const begun = Date.now();
      const { exit } = await runToEnd(start, "sleep", ["100"], { limits: { maxDurationMs: 300 } });
      expect(exit.reason).toBe("timeout");
      expect(exit.detail).toMatch(/maximum duration of 300 ms/);
      expect(Date.now() - begun).toBeLessThan(5_000);
    });

    it("cancel kills children and grandchildren, including ones in their own session", async () => {
      const handle = await start("sh", [
        "-c",
        'sleep 100 & sh -c "sleep 100 & wait" & setsid sleep 100 & wait',
      ]);
      expect(await waitFor(async () => (await named(handle, "sleep")).length === 3)).toBe(true);
      const pids = await jobPids(handle);
      const exit = await handle.cancel("operator asked");
      expect(exit).toMatchObject({ reason: "cancelled", detail: "operator asked" });
      expect(pids.every(isGone)).toBe(true);
    });

    it("lets the job clean up on SIGTERM before the grace period ends", async () => {
      const out = textSink();
      const handle = await start(
        "sh",
        ["-c", "trap 'echo cleaning up; exit 3' TERM; echo ready; sleep 100 & wait"],
        { ...out, killGraceMs: 10_000 },
      );
      expect(await waitFor(() => out.text().includes("ready"))).toBe(true);
      const asked = Date.now();
      const exit = await handle.cancel();
      expect(Date.now() - asked).toBeLessThan(5_000);
      expect(out.text()).toBe("ready\ncleaning up\n");
      expect(exit).toMatchObject({ exitCode: 3, reason: "cancelled" });
    });

    it("escalates to SIGKILL when the job ignores SIGTERM", async () => {
      const handle = await start("sh", ["-c", "trap '' TERM; sleep 100 & wait"], { killGraceMs: 300 });
      expect(await waitFor(async () => (await named(handle, "sleep")).length === 1)).toBe(true);
      const pids = await jobPids(handle);
      const asked = Date.now();
      const exit = await handle.cancel();
      expect(Date.now() - asked).toBeGreaterThanOrEqual(250);
      expect(exit.reason).toBe("cancelled");
      expect(pids.every(isGone)).toBe(true);
    });

    it("kills what the main process leaves behind when it exits", async () => {
      const handle = await start("sh", ["-c", "sleep 100 & sleep 0.5; exit 0"]);
      expect(await waitFor(async () => (await named(handle, "sleep")).length === 2)).toBe(true);
      const pids = await jobPids(handle);
      expect((await handle.exited).exitCode).toBe(0);
      expect(pids.every(isGone)).toBe(true);
    });

    it("suspends and resumes every process, pausing the duration clock", async () => {
      const handle = await start("sh", ["-c", `"${NODE}" -e "for(;;);" & wait`], {
        limits: { maxDurationMs: 1_500 },
      });
      expect(await waitFor(async () => (await handle.sample()).cpuMs > 100n)).toBe(true);
      await handle.suspend();
      expect(handle.suspended).toBe(true);
      await new Promise((r) => setTimeout(r, 100));
      const frozen = (await handle.sample()).cpuMs;
      await new Promise((r) => setTimeout(r, 1_500)); // past maxDurationMs: suspended time does not count
      expect((await handle.sample()).cpuMs - frozen).toBeLessThanOrEqual(30n);
      expect(isGone(Number(handle.id))).toBe(false);
      await handle.resume();
      expect(handle.suspended).toBe(false);
      expect(await waitFor(async () => (await handle.sample()).cpuMs > frozen + 100n)).toBe(true);
      expect((await handle.exited).reason).toBe("timeout");
    });

    it("kills a job suspended for longer than allowed, even though it is stopped", async () => {
      const handle = await start("sh", ["-c", "sleep 100 & wait"], { limits: { maxSuspendedMs: 300 } });
      expect(await waitFor(async () => (await named(handle, "sleep")).length === 1)).toBe(true);
      const pids = await jobPids(handle);
      await handle.suspend();
      const exit = await handle.exited;
      expect(exit).toMatchObject({ reason: "suspended-timeout", detail: "suspended for more than 300 ms" });
      expect(pids.every(isGone)).toBe(true);
    });

    it("samples CPU time, memory and the job's host pids, and never rejects after the end", async () => {
      const handle = await start(NODE, ["-e", "const b = Buffer.alloc(64 << 20, 1); for (;;);"]);
      expect(await waitFor(async () => (await handle.sample()).memKiB > 60n * 1024n)).toBe(true);
      const running = await handle.sample();
      expect(running.cpuMs).toBeGreaterThan(0n);
      expect(running.pids).toBeGreaterThanOrEqual(1);
      const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8");
      expect(running.hostPids.filter((pid) => cmdline(pid).startsWith(`${NODE}\0-e`))).toHaveLength(1);
      await handle.cancel();
      await handle.remove();
      const after = await handle.sample();
      expect(after.cpuMs).toBeGreaterThanOrEqual(running.cpuMs);
    });
  });
}
