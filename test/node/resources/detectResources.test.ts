import { availableParallelism, totalmem } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { detectResources } from "../../../node/resources/detectResources.ts";
import { ResourceDetectionError } from "../../../node/resources/errors.ts";

const fakeSmi = join(import.meta.dirname, "..", "..", "fixtures", "bin", "nvidia-smi");
const withProfile = (profile: string, extra: object = {}) => ({
  nvidiaSmiPath: fakeSmi,
  env: { ...process.env, FAKE_NVIDIA_SMI_PROFILE: profile },
  ...extra,
});

describe("detectResources", () => {
  it("reports CPU cores and memory from the OS", async () => {
    const r = await detectResources(withProfile("none"));
    expect(r.cpuCores).toBe(availableParallelism());
    expect(r.memMiB).toBe(Math.floor(totalmem() / 1_048_576));
    expect(r.gpus).toEqual([]);
  });

  it.each([
    ["h100x2", 2, "nvidia-h100-80gb", 81559, "550.54.15"],
    ["rtx4090", 1, "nvidia-rtx4090-24gb", 24564, "545.29.06"],
    ["a100x8", 8, "nvidia-a100-40gb", 40960, "535.183.01"],
    ["t4", 1, "nvidia-t4-15gb", 15360, "470.182.03"],
  ])("detects the %s machine", async (profile, count, gpuClass, vramMiB, driverVersion) => {
    const { gpus } = await detectResources(withProfile(profile, { requireGpus: true }));
    expect(gpus).toHaveLength(count);
    expect(gpus.map((g) => g.index)).toEqual([...Array(count).keys()]);
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(count);
    for (const g of gpus) expect(g).toMatchObject({ class: gpuClass, vramMiB, driverVersion });
  });

  it("falls back to CPU only when nvidia-smi is not installed, unless GPUs are required", async () => {
    const missing = { nvidiaSmiPath: "/nonexistent/nvidia-smi" };
    expect((await detectResources(missing)).gpus).toEqual([]);
    await expect(detectResources({ ...missing, requireGpus: true })).rejects.toThrow(
      /GPUs are required but none were found/,
    );
    // The default command resolves through the given PATH.
    expect((await detectResources({ env: { PATH: "/nonexistent" } })).gpus).toEqual([]);
  });

  it("treats 'No devices were found' as no GPUs", async () => {
    expect((await detectResources(withProfile("none"))).gpus).toEqual([]);
    await expect(detectResources(withProfile("none", { requireGpus: true }))).rejects.toThrow(
      ResourceDetectionError,
    );
  });

  it("names the command and its output when nvidia-smi fails", async () => {
    const error = await detectResources(withProfile("broken")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ResourceDetectionError);
    expect((error as Error).message).toMatch(
      /^`.*nvidia-smi --query-gpu=index,uuid,name,memory.total,driver_version --format=csv,noheader,nounits` exited with code 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver/,
    );
  });

  it("includes stderr when nvidia-smi complains there", async () => {
    await expect(detectResources(withProfile("unknown-profile"))).rejects.toThrow(
      /exited with code 2: fake nvidia-smi: set FAKE_NVIDIA_SMI_PROFILE/,
    );
  });

  it("rejects garbage output with the offending line", async () => {
    await expect(detectResources(withProfile("garbage"))).rejects.toThrow(
      /nvidia-smi .*unexpected nvidia-smi output line ".*\[N\/A\].*": memory.total is not a number of MiB/,
    );
  });

  it("has fixture tables that agree with the fixture queries", async () => {
    const { execFileSync } = await import("node:child_process");
    for (const profile of ["h100x2", "rtx4090", "a100x8", "t4"]) {
      const env = { ...process.env, FAKE_NVIDIA_SMI_PROFILE: profile };
      const table = execFileSync(fakeSmi, [], { env, encoding: "utf8" });
      const { gpus } = await detectResources(withProfile(profile));
      for (const g of gpus) {
        expect(table).toMatch(new RegExp(`\\|\\s+${g.index}\\s+${g.name}\\s`));
        expect(table).toMatch(new RegExp(`/\\s+${g.vramMiB}MiB`));
        expect(table).toContain(`Driver Version: ${g.driverVersion}`);
      }
    }
  });

  it("times out a hanging nvidia-smi", async () => {
    await expect(detectResources(withProfile("hang", { timeoutMs: 500 }))).rejects.toThrow(
      /timed out after 500 ms/,
    );
  });
});
