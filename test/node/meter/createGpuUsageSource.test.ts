import { describe, expect, it } from "vitest";
import { createGpuUsageSource } from "../../../node/meter/createGpuUsageSource.ts";
import type { MeterObservation, UsageEvent } from "../../../node/meter/types.ts";
import type { GpuReading } from "../../../node/resources/readGpuUsage.ts";

const U0 = "GPU-2f8a5c3e-7b1d-4e9a-a6c2-91d3e5f70b14";
const reading = (percent: bigint, memMiB: bigint): GpuReading => ({
  gpus: [{ index: 0, uuid: U0, utilizationPercent: percent, memoryUsedMiB: memMiB }],
  apps: [{ pid: 7, gpuUuid: U0, usedMemoryMiB: memMiB }],
});

/** A source whose readings the test hands out one by one. */
function controlled() {
  const pending: { resolve: (r: GpuReading) => void; reject: (e: Error) => void }[] = [];
  const warnings: string[] = [];
  const source = createGpuUsageSource({
    jobId: "j",
    gpuIndices: [0],
    read: () => new Promise<GpuReading>((resolve, reject) => pending.push({ resolve, reject })),
    onWarning: (message) => warnings.push(message),
  });
  const settle = async (outcome: GpuReading | Error) => {
    const next = pending.shift();
    if (next === undefined) throw new Error("no reading is running");
    if (outcome instanceof Error) next.reject(outcome);
    else next.resolve(outcome);
    await new Promise((r) => setImmediate(r));
  };
  return { source, pending, warnings, settle };
}

const at = (seq: number, monoMs: bigint, paused = false): MeterObservation => ({
  seq,
  monoMs,
  timeMs: seq,
  pids: [7],
  paused,
});
const total = (events: UsageEvent[], meter: string) =>
  events.filter((e) => e.meter === meter).reduce((s, e) => s + e.quantity, 0n);

describe("createGpuUsageSource", () => {
  it("never waits for nvidia-smi: a slow reading accounts for the samples it missed", async () => {
    const { source, pending, settle } = controlled();
    source.start?.(0n);
    expect(pending).toHaveLength(1);
    // The first reading is slow: samples at 1 s and 2 s have nothing to bill with, and do not wait.
    expect(source.collect(at(0, 1_000n))).toEqual([]);
    expect(source.collect(at(1, 2_000n))).toEqual([]);
    expect(source.slowSamples).toBe(2);
    await settle(reading(50n, 100n));
    // It covers all 3 s since the start: 50 % × 3000 ms; no memory held before the first reading.
    const events = await source.collect(at(2, 3_000n));
    expect(events.map((e) => [e.id, e.quantity])).toEqual([["j:gpu_util_ms:2", 1_500n]]);
    // A new reading started once this one was used.
    expect(pending).toHaveLength(1);
    await settle(reading(100n, 100n));
    const next = await source.collect(at(3, 4_000n));
    expect(total(next, "gpu_util_ms")).toBe(1_000n);
    expect(total(next, "gpu_mem_mib_ms")).toBe(100n * 1_000n);
  });

  it("bills no utilization for the time of a failed reading, and says so once", async () => {
    const { source, warnings, settle } = controlled();
    source.start?.(0n);
    await settle(reading(100n, 10n));
    await source.collect(at(0, 1_000n));
    await settle(new Error("NVIDIA-SMI has failed\nmore"));
    const failed = await source.collect(at(1, 2_000n));
    // The memory held at the interval's start is known: billed; the utilization is not.
    expect(failed.map((e) => [e.meter, e.quantity])).toEqual([["gpu_mem_mib_ms", 10_000n]]);
    await settle(new Error("NVIDIA-SMI has failed\nmore"));
    expect(await source.collect(at(2, 3_000n))).toEqual([]);
    await settle(reading(100n, 10n));
    await source.collect(at(3, 4_000n));
    expect(source.totals()).toEqual({ gpu_util_ms: 2_000n, gpu_mem_mib_ms: 10_000n });
    expect(source.skippedSamples).toBe(2);
    expect(warnings).toEqual([
      "nvidia-smi failed: GPU sample skipped, other meters go on",
      "nvidia-smi answers again: GPU metering resumed",
    ]);
  });

  it("moves its clock past a suspension even while a reading is running, and bills none of it", async () => {
    const { source, settle } = controlled();
    source.start?.(0n);
    await settle(reading(100n, 10n));
    await source.collect(at(0, 1_000n));
    // Suspended from 1 s to 9 s; the reading started at 1 s is still running.
    await source.collect(at(1, 9_000n, true));
    await settle(reading(100n, 10n));
    await source.collect(at(2, 10_000n));
    expect(source.totals()).toEqual({ gpu_util_ms: 2_000n, gpu_mem_mib_ms: 10_000n });
  });
});
