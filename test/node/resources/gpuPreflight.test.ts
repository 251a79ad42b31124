import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BaseError } from "../../../marketplace/errors/base.ts";
import { GpuPreflightError } from "../../../node/resources/errors.ts";
import { gpuPreflight } from "../../../node/resources/gpuPreflight.ts";
import { FAKE_NVIDIA_SMI, fakeEnv } from "./fakeNvidiaSmi.ts";

const QUERY = "--query-gpu=index,uuid,name,memory.total,driver_version --format=csv,noheader,nounits";
const run = (profile: string, extra: Parameters<typeof gpuPreflight>[0] = {}) =>
  gpuPreflight({ nvidiaSmiPath: FAKE_NVIDIA_SMI, env: fakeEnv(profile), ...extra });
const failure = async (promise: Promise<unknown>): Promise<GpuPreflightError> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GpuPreflightError);
  // A BaseError: the CLI prints its message, not a stack trace.
  expect(error).toBeInstanceOf(BaseError);
  return error as GpuPreflightError;
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-preflight-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("gpuPreflight", () => {
  it.each([
    ["h100x2", "550.54.15", "12.4", { "nvidia-h100-80gb": 2 }],
    ["rtx4090", "545.29.06", "12.3", { "nvidia-rtx4090-24gb": 1 }],
    ["a100x8", "535.183.01", "12.2", { "nvidia-a100-40gb": 8 }],
    ["t4", "470.182.03", "11.4", { "nvidia-t4-15gb": 1 }],
  ])(
    "reports driver, CUDA version, count and classes of the %s machine",
    async (profile, driver, cuda, classes) => {
      const count = Object.values(classes).reduce((a, b) => a + b, 0);
      const { preflight, resources } = await run(profile, { expectGpus: count, requireGpus: true });
      expect(preflight).toMatchObject({
        nvidiaSmi: FAKE_NVIDIA_SMI,
        state: "ok",
        driverVersion: driver,
        cudaVersion: cuda,
        gpuCount: count,
        classes,
      });
      expect(preflight.gpus.map((g) => g.index)).toEqual([...Array(count).keys()]);
      expect(resources.gpus).toHaveLength(count);
      expect(resources.cpuCores).toBeGreaterThan(0);
    },
  );

  it("is CPU only without nvidia-smi or without GPUs when none are configured", async () => {
    const missing = await gpuPreflight({ nvidiaSmiPath: join(dir, "nvidia-smi") });
    expect(missing.preflight).toMatchObject({ state: "missing", gpuCount: 0, cudaVersion: null });
    expect(missing.resources.gpus).toEqual([]);
    expect((await run("none")).preflight).toMatchObject({ state: "no-devices", gpuCount: 0 });
    // expectGpus 0 asks for nothing.
    expect((await run("none", { expectGpus: 0 })).preflight.state).toBe("no-devices");
  });

  it("fails naming the command when GPUs are configured and nvidia-smi is missing", async () => {
    const path = join(dir, "nvidia-smi");
    const required = await failure(gpuPreflight({ nvidiaSmiPath: path, requireGpus: true }));
    expect(required.shortMessage).toBe(
      `GPUs are configured (runtime.requireGpus is set) but \`${path}\` was not found`,
    );
    expect(required.message).toContain(`Ran: ${path} ${QUERY}`);
    const expected = await failure(gpuPreflight({ nvidiaSmiPath: path, expectGpus: 4 }));
    expect(expected.shortMessage).toContain("runtime.expectGpus is 4");
  });

  it("fails with what a broken nvidia-smi printed, configured or not", async () => {
    for (const options of [{}, { requireGpus: true }]) {
      const error = await failure(run("broken", options));
      expect(error.message).toContain(`\`${FAKE_NVIDIA_SMI} ${QUERY}\` exited with code 9`);
      expect(error.message).toContain(
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver",
      );
    }
  });

  it("fails when nvidia-smi finds fewer GPUs than expected, quoting what it printed", async () => {
    const error = await failure(run("rtx4090", { expectGpus: 2 }));
    expect(error.shortMessage).toBe(
      `GPUs are configured (runtime.expectGpus is 2) but \`${FAKE_NVIDIA_SMI} ${QUERY}\` found 1`,
    );
    expect(error.details).toBe(
      "0, GPU-5d9b7e21-c0a4-8f3e-6b12-47e9d0a3c58f, NVIDIA GeForce RTX 4090, 24564, 545.29.06",
    );
    const none = await failure(run("none", { requireGpus: true }));
    expect(none.shortMessage).toContain("found none");
    expect(none.details).toBe("No devices were found");
  });

  it("fails on output that is not the requested CSV, and on a hung nvidia-smi", async () => {
    const garbage = await failure(run("garbage"));
    expect(garbage.message).toMatch(/memory.total is not a number of MiB/);
    const hung = await failure(run("hang", { timeoutMs: 300 }));
    expect(hung.message).toMatch(/timed out after 300 ms/);
  });

  it("stops `gridspot provider start` before anything else, naming the command and what it printed", async () => {
    const start = async (profile: string, runtime: Record<string, unknown>) => {
      const config = join(dir, `${profile}.json`);
      writeFileSync(
        config,
        JSON.stringify({ dataDir: join(dir, "node"), runtime: { nvidiaSmi: FAKE_NVIDIA_SMI, ...runtime } }),
      );
      const bin = join(import.meta.dirname, "..", "..", "..", "bin", "gridspot.ts");
      return promisify(execFile)(process.execPath, [bin, "provider", "start", "--config", config], {
        env: {
          ...fakeEnv(profile),
          // A development key (Hardhat's #0, public): the preflight runs before any chain is needed.
          GRIDSPOT_PRIVATE_KEY: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
          GRIDSPOT_RPC_URL: "http://127.0.0.1:9",
          GRIDSPOT_LOG: "silent",
        },
        timeout: 30_000,
      }).then(
        () => ({ code: 0, stderr: "" }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
    };
    const broken = await start("broken", { requireGpus: true });
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(
      `gridspot: GPU preflight failed: \`${FAKE_NVIDIA_SMI} ${QUERY}\` exited with code 9`,
    );
    expect(broken.stderr).toContain("couldn't communicate with the NVIDIA driver");
    expect(broken.stderr).not.toContain("    at "); // a message, not a stack trace
    const fewer = await start("h100x2", { expectGpus: 4 });
    expect(fewer.code).toBe(1);
    expect(fewer.stderr).toContain(`(runtime.expectGpus is 4) but \`${FAKE_NVIDIA_SMI} ${QUERY}\` found 2`);
    expect(fewer.stderr).toContain("GPU-8c41e0d7-3a92-4f6b-b8e5-0d7c2a9f6e31, NVIDIA H100 80GB HBM3");
  });
});
