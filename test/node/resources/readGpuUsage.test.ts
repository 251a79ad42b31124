import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ResourceDetectionError } from "../../../node/resources/errors.ts";
import { readGpuUsage } from "../../../node/resources/readGpuUsage.ts";
import { FAKE_NVIDIA_SMI, fakeEnv, writeFakeGpuState } from "./fakeNvidiaSmi.ts";

let dir: string;
let state: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-gpu-usage-"));
  state = join(dir, "state.json");
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const read = (profile: string, extra = {}) =>
  readGpuUsage({ nvidiaSmiPath: FAKE_NVIDIA_SMI, env: fakeEnv(profile, state), ...extra });

describe("readGpuUsage", () => {
  it("reads an idle machine from the recordings", async () => {
    const reading = await read("h100x2");
    expect(reading.apps).toEqual([]);
    expect(reading.gpus.map((g) => [g.index, g.utilizationPercent, g.memoryUsedMiB])).toEqual([
      [0, 0n, 1n],
      [1, 0n, 1n],
    ]);
  });

  it("reads the processes and utilization the test sets", async () => {
    writeFakeGpuState(state, {
      apps: [
        { pid: 4242, gpu: 1, usedMiB: 3000 },
        { pid: 4243, gpu: 1, usedMiB: 1000 },
      ],
      utilization: { "1": 80 },
    });
    const reading = await read("h100x2");
    expect(reading.apps).toEqual([
      { pid: 4242, gpuUuid: "GPU-8c41e0d7-3a92-4f6b-b8e5-0d7c2a9f6e31", usedMemoryMiB: 3000n },
      { pid: 4243, gpuUuid: "GPU-8c41e0d7-3a92-4f6b-b8e5-0d7c2a9f6e31", usedMemoryMiB: 1000n },
    ]);
    expect(reading.gpus[1]).toMatchObject({ utilizationPercent: 80n, memoryUsedMiB: 4001n });
    expect(reading.gpus[0]).toMatchObject({ utilizationPercent: 0n, memoryUsedMiB: 1n });
  });

  it("fails naming the query and what nvidia-smi printed", async () => {
    writeFakeGpuState(state, { fail: "broken" });
    await expect(read("h100x2")).rejects.toThrow(
      /--query-gpu=index,uuid,utilization.gpu,memory.used --format=csv,noheader,nounits` exited with code 9: NVIDIA-SMI has failed/,
    );
    writeFakeGpuState(state, { fail: "garbage" });
    await expect(read("h100x2")).rejects.toThrow(ResourceDetectionError);
    writeFakeGpuState(state, { fail: "hang" });
    await expect(read("h100x2", { timeoutMs: 300 })).rejects.toThrow(/timed out after 300 ms/);
    await expect(readGpuUsage({ nvidiaSmiPath: join(dir, "none") })).rejects.toThrow(/was not found/);
  });
});
