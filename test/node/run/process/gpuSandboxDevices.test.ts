import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gpuSandboxDevices } from "../../../../node/run/process/gpuSandboxDevices.ts";

const procGpusDir = mkdtempSync(join(tmpdir(), "gridspot-nvidia-gpus-"));
// nvidia-smi index = PCI order: 0000:1a (minor 3), 0000:3b (minor 0), 0000:b1 (minor 1).
for (const [busId, minor] of [
  ["0000:3b:00.0", 0],
  ["0000:b1:00.0", 1],
  ["0000:1a:00.0", 3],
] as const) {
  mkdirSync(join(procGpusDir, busId));
  writeFileSync(
    join(procGpusDir, busId, "information"),
    `Model: \t NVIDIA H100\nDevice Minor: \t ${minor}\n`,
  );
}
afterAll(() => rmSync(procGpusDir, { recursive: true, force: true }));

describe("gpuSandboxDevices", () => {
  it("maps nvidia-smi indices to device minors in PCI order, and masks the other GPUs", () => {
    const { devices, hiddenProcDirs } = gpuSandboxDevices([0, 2], { procGpusDir });
    expect(devices).toEqual([
      "/dev/nvidia3",
      "/dev/nvidia1",
      "/dev/nvidiactl",
      "/dev/nvidia-uvm",
      "/dev/nvidia-uvm-tools",
      "/dev/nvidia-modeset",
    ]);
    expect(hiddenProcDirs).toEqual([join(procGpusDir, "0000:3b:00.0")]);
  });

  it("falls back to /dev/nvidia<index> without the driver's /proc entries, and gives a CPU job nothing", () => {
    expect(gpuSandboxDevices([1], { procGpusDir: "/nonexistent" }).devices[0]).toBe("/dev/nvidia1");
    expect(gpuSandboxDevices([], { procGpusDir })).toEqual({ devices: [], hiddenProcDirs: [] });
  });
});
