import { describe, expect, it } from "vitest";
import { createGpuAccumulator } from "../../../node/meter/createGpuAccumulator.ts";
import type { GpuReading } from "../../../node/resources/readGpuUsage.ts";

const U0 = "GPU-2f8a5c3e-7b1d-4e9a-a6c2-91d3e5f70b14";
const U1 = "GPU-8c41e0d7-3a92-4f6b-b8e5-0d7c2a9f6e31";

function reading(util: [bigint | undefined, bigint | undefined], apps: GpuReading["apps"]): GpuReading {
  return {
    gpus: [
      { index: 0, uuid: U0, utilizationPercent: util[0], memoryUsedMiB: 0n },
      { index: 1, uuid: U1, utilizationPercent: util[1], memoryUsedMiB: 0n },
    ],
    apps,
  };
}

const sum = (events: { meter: string; quantity: bigint }[], meter: string) =>
  events.filter((e) => e.meter === meter).reduce((s, e) => s + e.quantity, 0n);

describe("createGpuAccumulator", () => {
  it("bills utilization × time on the assigned GPUs and the job processes' memory × time", () => {
    const acc = createGpuAccumulator({
      jobId: "job-1",
      gpuIndices: [1],
      gpuClass: "nvidia-h100-80gb",
      startMonoMs: 1_000n,
    });
    const jobApps = [
      { pid: 10, gpuUuid: U1, usedMemoryMiB: 2_048n },
      { pid: 11, gpuUuid: U1, usedMemoryMiB: 1_024n },
      // Another tenant's process on GPU 1, and the job's GPU 0 untouched: neither is the job's.
      { pid: 99, gpuUuid: U1, usedMemoryMiB: 50_000n },
    ];
    // 1 s at 50 %: 500 gpu_util_ms; memory held from the start of the interval, none at the start.
    const first = acc.sample({
      seq: 0,
      monoMs: 2_000n,
      timeMs: 5,
      pids: [10, 11],
      reading: reading([90n, 50n], jobApps),
    });
    expect(first.warnings).toEqual([]);
    expect(first.events).toEqual([
      {
        id: "job-1:gpu_util_ms:0",
        jobId: "job-1",
        source: "node",
        meter: "gpu_util_ms",
        quantity: 500n,
        time: 5,
        gpuClass: "nvidia-h100-80gb",
      },
    ]);
    // Next 0.5 s at 100 %: 500 more; memory of the interval's start, 3072 MiB × 500 ms.
    const second = acc.sample({
      seq: 1,
      monoMs: 2_500n,
      timeMs: 6,
      pids: [10, 11],
      reading: reading([0n, 100n], []),
    });
    expect(sum(second.events, "gpu_util_ms")).toBe(500n);
    expect(sum(second.events, "gpu_mem_mib_ms")).toBe(3_072n * 500n);
    expect(second.events.map((e) => e.id)).toEqual(["job-1:gpu_util_ms:1", "job-1:gpu_mem_mib_ms:1"]);
    expect(acc.totals()).toEqual({ gpu_util_ms: 1_000n, gpu_mem_mib_ms: 1_536_000n });
  });

  it("carries fractions exactly: the events sum to floor(Σ %·ms / 100)", () => {
    const acc = createGpuAccumulator({ jobId: "j", gpuIndices: [0, 1], startMonoMs: 0n });
    const events: { meter: string; quantity: bigint }[] = [];
    let percentMs = 0n;
    let monoMs = 0n;
    for (let i = 1; i <= 50; i++) {
      const dt = BigInt(7 + (i % 13));
      const a = BigInt((i * 37) % 101);
      const b = BigInt((i * 11) % 101);
      monoMs += dt;
      percentMs += (a + b) * dt;
      events.push(
        ...acc.sample({ seq: i, monoMs, timeMs: i, pids: [], reading: reading([a, b], []) }).events,
      );
    }
    expect(sum(events, "gpu_util_ms")).toBe(percentMs / 100n);
    expect(acc.totals().gpu_util_ms).toBe(percentMs / 100n);
    // Never more than the allocated GPU time: 2 GPUs × the elapsed ms.
    expect(acc.totals().gpu_util_ms <= 2n * monoMs).toBe(true);
  });

  it("bills nothing for what a failed reading could not see", () => {
    const acc = createGpuAccumulator({ jobId: "j", gpuIndices: [0], startMonoMs: 0n });
    const apps = [{ pid: 7, gpuUuid: U0, usedMemoryMiB: 100n }];
    acc.sample({ seq: 0, monoMs: 1_000n, timeMs: 1, pids: [7], reading: reading([100n, 0n], apps) });
    expect(acc.totals()).toEqual({ gpu_util_ms: 1_000n, gpu_mem_mib_ms: 0n });
    // Failed: no utilization for this second; memory known from the interval's start is billed.
    acc.sample({ seq: 1, monoMs: 2_000n, timeMs: 2, pids: [7], reading: undefined });
    expect(acc.totals()).toEqual({ gpu_util_ms: 1_000n, gpu_mem_mib_ms: 100_000n });
    // The memory at this interval's start is unknown: nothing billed for it.
    acc.sample({ seq: 2, monoMs: 3_000n, timeMs: 3, pids: [7], reading: reading([100n, 0n], apps) });
    expect(acc.totals()).toEqual({ gpu_util_ms: 2_000n, gpu_mem_mib_ms: 100_000n });
    acc.sample({ seq: 3, monoMs: 4_000n, timeMs: 4, pids: [7], reading: reading([0n, 0n], apps) });
    expect(acc.totals()).toEqual({ gpu_util_ms: 2_000n, gpu_mem_mib_ms: 200_000n });
  });

  it("bills nothing for a suspended interval", () => {
    const acc = createGpuAccumulator({ jobId: "j", gpuIndices: [0], startMonoMs: 0n });
    const apps = [{ pid: 7, gpuUuid: U0, usedMemoryMiB: 10n }];
    acc.sample({ seq: 0, monoMs: 1_000n, timeMs: 1, pids: [7], reading: reading([50n, 0n], apps) });
    acc.sample({
      seq: 1,
      monoMs: 9_000n,
      timeMs: 2,
      pids: [7],
      paused: true,
      reading: reading([50n, 0n], apps),
    });
    expect(acc.totals()).toEqual({ gpu_util_ms: 500n, gpu_mem_mib_ms: 0n });
    acc.sample({ seq: 2, monoMs: 10_000n, timeMs: 3, pids: [7], reading: reading([50n, 0n], apps) });
    expect(acc.totals()).toEqual({ gpu_util_ms: 1_000n, gpu_mem_mib_ms: 10_000n });
  });

  it("warns about what it cannot attribute, and never bills it", () => {
    const acc = createGpuAccumulator({ jobId: "j", gpuIndices: [0, 3], startMonoMs: 0n });
    const apps = [
      { pid: 7, gpuUuid: U1, usedMemoryMiB: 10n },
      { pid: 8, gpuUuid: U0, usedMemoryMiB: undefined },
    ];
    const { warnings } = acc.sample({
      seq: 0,
      monoMs: 1_000n,
      timeMs: 1,
      pids: [7, 8],
      reading: reading([undefined, 100n], apps),
    });
    expect(warnings).toEqual([
      "GPU 0 reports no utilization",
      "assigned GPU 3 is missing from nvidia-smi's answer",
      `job process 7 uses GPU ${U1}, which is not assigned to it`,
      "GPU memory of process 8 is unknown",
    ]);
    acc.sample({
      seq: 1,
      monoMs: 2_000n,
      timeMs: 2,
      pids: [7, 8],
      reading: reading([undefined, 100n], apps),
    });
    expect(acc.totals()).toEqual({ gpu_util_ms: 0n, gpu_mem_mib_ms: 0n });
  });
});
