import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseComputeApps } from "../../../node/resources/parseComputeApps.ts";
import { parseGpuUtilization } from "../../../node/resources/parseGpuUtilization.ts";
import { parseNvidiaSmiHeader } from "../../../node/resources/parseNvidiaSmiHeader.ts";

const recording = (file: string) =>
  readFileSync(join(import.meta.dirname, "..", "..", "fixtures", "nvidia-smi", file), "utf8");
const H100_0 = "GPU-2f8a5c3e-7b1d-4e9a-a6c2-91d3e5f70b14";
const H100_1 = "GPU-8c41e0d7-3a92-4f6b-b8e5-0d7c2a9f6e31";

describe("parseComputeApps", () => {
  it("reads the recorded busy machine: one line per process and GPU", () => {
    expect(parseComputeApps(recording("h100x2-busy.apps.csv"))).toEqual([
      { pid: 48211, gpuUuid: H100_0, usedMemoryMiB: 69120n },
      { pid: 48260, gpuUuid: H100_0, usedMemoryMiB: 2108n },
      { pid: 51877, gpuUuid: H100_1, usedMemoryMiB: 20480n },
    ]);
  });

  it("reads no process from empty output and from older drivers' sentence", () => {
    expect(parseComputeApps("")).toEqual([]);
    expect(parseComputeApps("No running processes found\n")).toEqual([]);
  });

  it("keeps a process whose memory nvidia-smi cannot tell, and drops one without a pid", () => {
    const out = `12, ${H100_0}, [N/A]\r\n[Insufficient Permissions], ${H100_0}, 100\n`;
    expect(parseComputeApps(out)).toEqual([{ pid: 12, gpuUuid: H100_0, usedMemoryMiB: undefined }]);
  });

  it.each([
    [`12, ${H100_0}`, /expected 3 comma-separated fields, got 2/],
    ["12, 2f8a5c3e, 100", /gpu_uuid is not a GPU uuid/],
    [`12, ${H100_0}, lots`, /used_memory is not a number of MiB/],
    ["Segmentation fault", /expected 3 comma-separated fields/],
  ])("rejects %j", (line, message) => {
    expect(() => parseComputeApps(line)).toThrow(message);
  });
});

describe("parseGpuUtilization", () => {
  it("reads the recorded busy and idle machines", () => {
    expect(parseGpuUtilization(recording("h100x2-busy.util.csv"))).toEqual([
      { index: 0, uuid: H100_0, utilizationPercent: 97n, memoryUsedMiB: 71230n },
      { index: 1, uuid: H100_1, utilizationPercent: 34n, memoryUsedMiB: 20481n },
    ]);
    const idle = parseGpuUtilization(recording("a100x8.util.csv"));
    expect(idle).toHaveLength(8);
    for (const gpu of idle) expect(gpu).toMatchObject({ utilizationPercent: 0n, memoryUsedMiB: 4n });
  });

  it("turns [N/A] and [Not Supported] (MIG devices) into unknown figures", () => {
    expect(
      parseGpuUtilization(`0, MIG-9a1b2c3d-0000-1111-2222-333344445555, [N/A], [Not Supported]`),
    ).toEqual([
      {
        index: 0,
        uuid: "MIG-9a1b2c3d-0000-1111-2222-333344445555",
        utilizationPercent: undefined,
        memoryUsedMiB: undefined,
      },
    ]);
  });

  it.each([
    [`0, ${H100_0}, 101, 5`, /utilization.gpu 101 is above 100/],
    [`0, ${H100_0}, 50`, /expected 4 comma-separated fields, got 3/],
    [`x, ${H100_0}, 50, 5`, /index is not a number/],
    [`0, ${H100_0}, 50%, 5`, /utilization.gpu is not a number/],
    [recording("garbage.txt"), /expected 4 comma-separated fields/],
  ])("rejects %j", (out, message) => {
    expect(() => parseGpuUtilization(out)).toThrow(message);
  });
});

describe("parseNvidiaSmiHeader", () => {
  it.each([
    ["h100x2.txt", "550.54.15", "12.4"],
    ["rtx4090.txt", "545.29.06", "12.3"],
    ["a100x8.txt", "535.183.01", "12.2"],
    ["t4.txt", "470.182.03", "11.4"],
  ])("reads driver and CUDA versions from %s", (file, driverVersion, cudaVersion) => {
    expect(parseNvidiaSmiHeader(recording(file))).toEqual({ driverVersion, cudaVersion });
  });

  it("gives null where the header shows no version", () => {
    expect(
      parseNvidiaSmiHeader("| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: N/A |"),
    ).toEqual({
      driverVersion: "550.54.15",
      cudaVersion: null,
    });
    expect(parseNvidiaSmiHeader(recording("broken.txt"))).toEqual({ driverVersion: null, cudaVersion: null });
  });
});
