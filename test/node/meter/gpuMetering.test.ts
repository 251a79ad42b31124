import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createGpuUsageSource } from "../../../node/meter/createGpuUsageSource.ts";
import { createJobMeter } from "../../../node/meter/createJobMeter.ts";
import { listProcessTree } from "../../../node/meter/listProcessTree.ts";
import type { UsageEvent } from "../../../node/meter/types.ts";
import { readGpuUsage } from "../../../node/resources/readGpuUsage.ts";
import { FAKE_NVIDIA_SMI, fakeEnv, writeFakeGpuState } from "../resources/fakeNvidiaSmi.ts";
import { exited } from "./childProcess.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-gpu-meter-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** `sh` running a long-lived node child: the job's root and the process that "uses the GPU". */
async function startJob() {
  const child = spawn("sh", ["-c", `"$NODE" -e "setTimeout(() => {}, 60000)" & wait`], {
    stdio: "ignore",
    detached: true,
    env: { ...process.env, NODE: process.execPath },
  });
  const root = child.pid ?? 0;
  for (let i = 0; i < 200; i++) {
    const worker = listProcessTree(root).find((p) => p.pid !== root);
    if (worker !== undefined) return { child, root, worker: worker.pid };
    await sleep(10);
  }
  throw new Error("the job's child did not start");
}

describe("GPU metering through nvidia-smi", () => {
  it("bills the job's utilization and GPU memory, and skips failed samples without losing the other meters", async () => {
    const state = join(dir, "state.json");
    const { child, root, worker } = await startJob();
    writeFakeGpuState(state, {
      apps: [
        { pid: worker, gpu: 1, usedMiB: 2048 },
        // Not in the job's tree, and on a GPU the job was not given.
        { pid: 1, gpu: 1, usedMiB: 999 },
        { pid: worker + 100_000, gpu: 0, usedMiB: 5000 },
      ],
      utilization: { "0": 100, "1": 50 },
    });
    const ok = { apps: [{ pid: worker, gpu: 1, usedMiB: 2048 }], utilization: { "0": 100, "1": 50 } };
    const warnings: string[] = [];
    let reads = 0;
    const source = createGpuUsageSource({
      jobId: "job-gpu-1",
      gpuIndices: [1],
      gpuClass: "nvidia-h100-80gb",
      read: async () => {
        reads++;
        // Reads 3 and 4 find nvidia-smi broken, from read 5 on it answers again.
        if (reads === 3) writeFakeGpuState(state, { fail: "broken" });
        if (reads === 5) writeFakeGpuState(state, ok);
        if (reads === 7) process.kill(-root, "SIGTERM");
        return readGpuUsage({ nvidiaSmiPath: FAKE_NVIDIA_SMI, env: fakeEnv("h100x2", state) });
      },
      onWarning: (message) => warnings.push(message),
    });
    const events: UsageEvent[] = [];
    const meter = createJobMeter({
      jobId: "job-gpu-1",
      rootPid: root,
      gpus: 1,
      gpuClass: "nvidia-h100-80gb",
      intervalMs: 50,
      sources: [source],
      onEvents: (batch) => {
        events.push(...batch);
      },
    });
    meter.start();
    await exited(child);
    await meter.stop();

    const bySeq = (meter: string) =>
      new Map(events.filter((e) => e.meter === meter).map((e) => [Number(e.id.split(":")[2]), e.quantity]));
    const gpuMs = bySeq("gpu_ms");
    const util = bySeq("gpu_util_ms");
    const mem = bySeq("gpu_mem_mib_ms");
    const samples = reads;
    expect(samples).toBeGreaterThanOrEqual(7);
    // Every sample stored its allocation meter, the failed ones included.
    expect([...gpuMs.keys()]).toEqual([...Array(samples).keys()]);
    expect(events.some((e) => e.meter === "cpu_core_ms")).toBe(true);
    expect(source.skippedSamples).toBe(2);
    for (let seq = 0; seq < samples; seq++) {
      const dt = gpuMs.get(seq) ?? 0n;
      const failed = seq === 2 || seq === 3;
      // 50 % of the one assigned GPU (the other one's 100 % is not the job's), carried to ±1 ms.
      if (failed) expect(util.has(seq)).toBe(false);
      else expect(Number((util.get(seq) ?? 0n) - dt / 2n)).toBeGreaterThanOrEqual(-1);
      if (!failed) expect(Number((util.get(seq) ?? 0n) - dt / 2n)).toBeLessThanOrEqual(1);
      // Memory held during the interval is what the previous reading saw: 2048 MiB of the job's
      // process on its GPU; nothing after a failed reading, nothing at the start.
      const heldBefore = seq > 0 && seq - 1 !== 2 && seq - 1 !== 3 ? 2048n : 0n;
      expect(mem.get(seq) ?? 0n).toBe(heldBefore * dt);
    }
    const totals = source.totals();
    expect(totals.gpu_util_ms).toBe([...util.values()].reduce((a, b) => a + b, 0n));
    expect(totals.gpu_util_ms * 2n <= meter.totals().gpu_ms + 2n).toBe(true);
    expect(warnings[0]).toBe("nvidia-smi failed: GPU sample skipped, other meters go on");
    expect(warnings).toContain("nvidia-smi answers again: GPU metering resumed");
    expect(events.every((e) => e.jobId === "job-gpu-1" && e.source === "node")).toBe(true);
  });
});
