import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { JobRuntime } from "../../../../node/run/runtime.ts";
import { isGone, jobStarter, NODE, runToEnd, textSink, waitFor } from "./helpers.ts";

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return "";
  }
};

/**
 * The limits a job's cgroup enforces, sandboxed or not: memory, CPU, processes, disk, and that
 * nothing the job started outlives it. Needs a root daemon (the file skips otherwise).
 */
export function describeLimits(sandbox: "none" | "bwrap", runtime: () => JobRuntime): void {
  describe(`process runtime limits (sandbox ${sandbox})`, () => {
    const start = jobStarter(runtime);

    it("enforces them with a per-job cgroup", () => {
      expect(runtime().status().limits).toMatch(/^cgroup-v[12]$/);
    });

    it("ends a job past its memory limit with reason oom", async () => {
      const { exit } = await runToEnd(
        start,
        NODE,
        ["-e", "const a = []; for (;;) a.push(Buffer.alloc(8 << 20, 1))"],
        { limits: { memMiB: 96 } },
      );
      expect(exit.reason).toBe("oom");
      expect(exit.detail).toMatch(/memory limit of 96 MiB/);
    });

    it("holds 4 busy threads to the CPU cores sold (1)", async () => {
      const busy =
        "const { Worker } = require('node:worker_threads');" +
        "for (let i = 0; i < 4; i++) new Worker('for (;;);', { eval: true });";
      const handle = await start(NODE, ["-e", busy], { limits: { cpuCores: 1, maxDurationMs: 2_000 } });
      const exit = await handle.exited;
      expect(exit.reason).toBe("timeout");
      const { cpuMs } = await handle.sample();
      const wallMs = exit.endedAt - exit.startedAt;
      expect(Number(cpuMs)).toBeLessThanOrEqual(wallMs * 1 + 300);
      expect(Number(cpuMs)).toBeGreaterThan(wallMs * 0.3);
    });

    it("ends a fork bomb with reason pids, and nothing of it is left", async () => {
      const handle = await start("sh", ["-c", "while :; do sleep 30 & done"], { limits: { pids: 32 } });
      const exit = await handle.exited;
      expect(exit.reason).toBe("pids");
      expect(exit.detail).toMatch(/32 processes and threads/);
      expect((await handle.sample()).hostPids).toEqual([]);
    });

    it("ends a job that fills its disk quota with reason disk-quota", async () => {
      const fill = "i=0; while :; do head -c 262144 /dev/zero > f$i; i=$((i+1)); sleep 0.05; done";
      const { exit } = await runToEnd(start, "sh", ["-c", fill], { limits: { diskBytes: 1024 * 1024 } });
      expect(exit.reason).toBe("disk-quota");
      expect(exit.detail).toMatch(/disk quota of 1048576 bytes/);
    });

    it("kills a setsid daemon that left the job's process tree when the job ends", async () => {
      const out = textSink();
      const handle = await start("sh", ["-c", "(setsid sleep 1000 &); echo started; sleep 1"], out);
      let daemons: number[] = [];
      expect(
        await waitFor(async () => {
          daemons = (await handle.sample()).hostPids.filter(
            (pid) => cmdline(pid) === "sleep\u00001000\u0000",
          );
          return daemons.length === 1;
        }),
      ).toBe(true);
      expect((await handle.exited).exitCode).toBe(0);
      expect(daemons.every(isGone)).toBe(true);
    });
  });
}
