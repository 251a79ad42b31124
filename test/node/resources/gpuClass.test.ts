import { describe, expect, it } from "vitest";
import { ResourceDetectionError } from "../../../node/resources/errors.ts";
import { gpuClass } from "../../../node/resources/gpuClass.ts";

describe("gpuClass", () => {
  it.each([
    ["NVIDIA H100 80GB HBM3", 81559, "nvidia-h100-80gb"],
    ["NVIDIA GeForce RTX 4090", 24564, "nvidia-rtx4090-24gb"],
    ["NVIDIA A100-SXM4-40GB", 40960, "nvidia-a100-40gb"],
    ["NVIDIA A100-SXM4-80GB", 81920, "nvidia-a100-80gb"],
    ["NVIDIA A100 80GB PCIe", 81920, "nvidia-a100-80gb"],
    ["Tesla T4", 15360, "nvidia-t4-15gb"],
    ["Tesla V100-SXM2-16GB", 16160, "nvidia-v100-16gb"],
    ["NVIDIA H100 NVL", 95830, "nvidia-h100-94gb"],
    ["NVIDIA H200", 143771, "nvidia-h200-140gb"],
    ["NVIDIA H100 PCIe", 81559, "nvidia-h100-80gb"],
    ["NVIDIA L40S", 46068, "nvidia-l40s-45gb"],
    ["NVIDIA RTX A6000", 49140, "nvidia-rtxa6000-48gb"],
    ["NVIDIA RTX 6000 Ada Generation", 49140, "nvidia-rtx6000ada-48gb"],
    ["Quadro RTX 8000", 48601, "nvidia-rtx8000-47gb"],
    ["NVIDIA GeForce RTX 3090 Ti", 24564, "nvidia-rtx3090ti-24gb"],
  ])("%s with %i MiB is %s", (name, mib, expected) => {
    expect(gpuClass(name, mib)).toBe(expected);
  });

  it("refuses names with no model and bad memory sizes", () => {
    expect(() => gpuClass("NVIDIA GeForce", 1024)).toThrow(ResourceDetectionError);
    expect(() => gpuClass("NVIDIA GeForce", 1024)).toThrow(
      /cannot tell the GPU model from the name "NVIDIA GeForce"/,
    );
    expect(() => gpuClass("Tesla T4", 0)).toThrow(/invalid memory size 0 MiB/);
  });
});
