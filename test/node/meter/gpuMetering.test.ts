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
import { type GpuReading, readGpuUsage } from "../../../node/resources/readGpuUsage.ts";
import { FAKE_NVIDIA_SMI, fakeEnv, writeFakeGpuState } from "../resources/fakeNvidiaSmi.ts";
import { exited } from "./childProcess.ts";

const U0 = "GPU-2f8a5c3e-7b1d-4e9a-a6c2-91d3e5f70b14";
const U1 = "GPU-8c41e0d7-3a92-4f6b-b8e5-0d7c2a9f6e31";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-gpu-meter-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** `sh` running a long-lived node child: the job's root and the process that "uses the GPU". */
async function startJob() {
  const child = spawn(
    "sh",
    [
      "-c",
      `"$NODE" -e "setInterval(() => { const t = Date.now(); while (Date.now() - t < 5); }, 20)" & wait`,
    ],
    {
      stdio: "ignore",
      detached: true,
      env: { ...process.env, NODE: process.execPath },
    },
  );
  const root = child.pid ?? 0;
  for (let i = 0; i < 500; i++) {
    const worker = listProcessTree(root).find((p) => p.pid !== root);
    if (worker !== undefined) return { child, root, worker: worker.pid };
    await sleep(10);
  }
  throw new Error("the job's child did not start");
}

const bySeq = (events: UsageEvent[], meter: string) =>
  new Map(events.filter((e) => e.meter === meter).map((e) => [Number(e.id.split(":")[2]), e.quantity]));

describe("GPU metering", () => {
  it("bills the job's utilization and GPU memory per sample, and skips failed readings without losing the other meters", async () => {
    const { child, root, worker } = await startJob();
    // Readings as nvidia-smi gives them: the job's process and another tenant's on GPU 1 (the
    // job's), a process of the job's on GPU 0 (not the job's), GPU 0 busier than GPU 1.
    const good: GpuReading = {
      gpus: [
        { index: 0, uuid: U0, utilizationPercent: 100n, memoryUsedMiB: 5_000n },
        { index: 1, uuid: U1, utilizationPercent: 50n, memoryUsedMiB: 3_047n },
      ],
      apps: [
        { pid: worker, gpuUuid: U1, usedMemoryMiB: 2_048n },
        { pid: 1, gpuUuid: U1, usedMemoryMiB: 999n },
        { pid: root, gpuUuid: U0, usedMemoryMiB: 5_000n },
      ],
    };
    const warnings: string[] = [];
    let reads = 0;
    const source = createGpuUsageSource({
      jobId: "job-gpu-1",
      gpuIndices: [1],
      gpuClass: "nvidia-h100-80gb",
      // Reading n is the one sample n - 1 uses: readings 3 and 4 fail.
      read: async () => {
        reads++;
        if (reads === 3 || reads === 4)
          throw new Error("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver");
        if (reads === 8) process.kill(-root, "SIGTERM");
        return good;
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

    const gpuMs = bySeq(events, "gpu_ms");
    const util = bySeq(events, "gpu_util_ms");
    const mem = bySeq(events, "gpu_mem_mib_ms");
    const samples = gpuMs.size;
    expect(samples).toBeGreaterThanOrEqual(7);
    // Every sample stored its allocation meter, the failed ones included.
    expect([...gpuMs.keys()]).toEqual([...Array(samples).keys()]);
    expect(events.some((e) => e.meter === "cpu_core_ms")).toBe(true);
    expect(source.skippedSamples).toBe(2);
    const failed = (seq: number) => seq === 2 || seq === 3;
    for (let seq = 0; seq < samples; seq++) {
      const dt = gpuMs.get(seq) ?? 0n;
      // 50 % of the one assigned GPU, carried to within a millisecond.
      if (failed(seq)) expect(util.has(seq)).toBe(false);
      else expect(Math.abs(Number((util.get(seq) ?? 0n) - dt / 2n))).toBeLessThanOrEqual(1);
      // The memory held during an interval is what the previous reading saw: the job's 2048 MiB
      // on its own GPU; nothing at the start, nothing after a failed reading.
      const heldBefore = seq > 0 && !failed(seq - 1) ? 2_048n : 0n;
      expect(mem.get(seq) ?? 0n).toBe(heldBefore * dt);
    }
    expect(source.totals().gpu_util_ms).toBe([...util.values()].reduce((a, b) => a + b, 0n));
    expect(warnings).toEqual([
      `job process ${root} uses GPU ${U0}, which is not assigned to it`,
      "nvidia-smi failed: GPU sample skipped, other meters go on",
      "nvidia-smi answers again: GPU metering resumed",
    ]);
  });

  it("reads the real (fake) nvidia-smi, and a hung one holds back neither the samples nor stop()", async () => {
    const state = join(dir, "state.json");
    const { child, root, worker } = await startJob();
    writeFakeGpuState(state, {
      apps: [{ pid: worker, gpu: 1, usedMiB: 2048 }],
      utilization: { "0": 100, "1": 50 },
    });
    const source = createGpuUsageSource({
      jobId: "job-gpu-2",
      gpuIndices: [1],
      read: () =>
        readGpuUsage({ nvidiaSmiPath: FAKE_NVIDIA_SMI, env: fakeEnv("h100x2", state), timeoutMs: 20_000 }),
      onWarning: () => {},
    });
    const events: UsageEvent[] = [];
    const meter = createJobMeter({
      jobId: "job-gpu-2",
      rootPid: root,
      gpus: 1,
      intervalMs: 100,
      sources: [source],
      onEvents: (batch) => {
        events.push(...batch);
      },
    });
    meter.start();
    // Let it bill GPU usage, then hang nvidia-smi for good.
    for (let i = 0; i < 300 && !events.some((e) => e.meter === "gpu_mem_mib_ms"); i++) await sleep(20);
    const util = () => source.totals().gpu_util_ms;
    expect(util()).toBeGreaterThan(0n);
    writeFakeGpuState(state, { fail: "hang" });
    const before = events.filter((e) => e.meter === "gpu_ms").length;
    await sleep(1_000);
    // Samples went on at their pace while nvidia-smi hung (20 s timeout).
    expect(events.filter((e) => e.meter === "gpu_ms").length - before).toBeGreaterThanOrEqual(3);
    process.kill(-root, "SIGTERM");
    await exited(child);
    const stopping = Date.now();
    const totals = await meter.stop();
    expect(Date.now() - stopping).toBeLessThan(2_000);
    // Never more than 50 % of the GPU time, and the job's memory never more than 2048 MiB of it.
    expect(util() * 2n <= totals.gpu_ms + 2n).toBe(true);
    const mem = source.totals().gpu_mem_mib_ms;
    expect(mem).toBeGreaterThan(0n);
    expect(mem <= 2_048n * totals.gpu_ms).toBe(true);
    // The hung reading never came: the samples since waited for it, none was billed as failed.
    expect(source.slowSamples).toBeGreaterThan(0);
    expect(source.skippedSamples).toBe(0);
  });
});
