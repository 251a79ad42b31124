import { describe, expect, it } from "vitest";
import { createGpuUsageReader } from "../../../node/resources/createGpuUsageReader.ts";
import { type GpuReading, readGpuUsage } from "../../../node/resources/readGpuUsage.ts";
import { FAKE_NVIDIA_SMI, fakeEnv } from "./fakeNvidiaSmi.ts";

describe("createGpuUsageReader", () => {
  it("shares one nvidia-smi reading among the jobs that ask at about the same time", async () => {
    let runs = 0;
    let clock = 0;
    const reader = createGpuUsageReader({
      nvidiaSmiPath: FAKE_NVIDIA_SMI,
      env: fakeEnv("a100x8"),
      maxAgeMs: 500,
      now: () => clock,
      read: (options) => {
        runs++;
        return readGpuUsage(options);
      },
    });
    // Eight jobs sample at once: one run of the real (fake) nvidia-smi.
    const readings = await Promise.all(Array.from({ length: 8 }, () => reader()));
    expect(runs).toBe(1);
    expect(new Set(readings).size).toBe(1);
    expect(readings[0]?.gpus).toHaveLength(8);
    clock = 499;
    await reader();
    expect(runs).toBe(1);
    clock = 500;
    await reader();
    expect(runs).toBe(2);
  });

  it("keeps no failed reading: the next call tries again", async () => {
    let runs = 0;
    const good: GpuReading = { gpus: [], apps: [] };
    const reader = createGpuUsageReader({
      maxAgeMs: 60_000,
      read: async () => {
        runs++;
        if (runs === 1) throw new Error("nvidia-smi broke");
        return good;
      },
    });
    await expect(reader()).rejects.toThrow("nvidia-smi broke");
    expect(await reader()).toBe(good);
    expect(await reader()).toBe(good);
    expect(runs).toBe(2);
  });
});
