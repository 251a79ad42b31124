import { mkdtempSync, rmSync } from "node:fs";
import { chmod, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UsageError } from "../../../marketplace/errors/usage.ts";
import { parseProviderConfig, readProviderConfigFile } from "../../../node/config/providerConfig.ts";

const GRID = 10n ** 18n;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-config-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error("expected a UsageError");
}

describe("parseProviderConfig", () => {
  it("fills every default from an empty object", () => {
    expect(parseProviderConfig({})).toEqual({
      dataDir: join(homedir(), ".gridspot", "provider"),
      rpcUrl: "http://127.0.0.1:8545",
      p2p: { listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: [], localNetwork: false },
      api: { host: "127.0.0.1", port: 8787 },
      pricing: {
        gpuHour: {},
        defaultGpuHour: 2n * GRID,
        cpuCoreHour: GRID / 50n,
        memGiBHour: GRID / 200n,
        spot: false,
      },
      receipts: { intervalMs: 5_000, graceIntervals: 2, granularity: "ms" },
      limits: {
        maxDurationS: 86_400,
        holdMs: 60_000,
        maxSuspendedS: 3600,
        maxInputBytes: 2 ** 30,
        maxOutputBytes: 2 ** 30,
      },
      runtime: {
        kind: "auto",
        sandbox: "auto",
        user: "65534:65534",
        network: "none",
        pidsLimit: 1024,
        diskMiB: 10_240,
        keepWorkDirs: false,
        docker: {
          socketPath: "/var/run/docker.sock",
          pull: "never",
          deny: [],
          tmpfsMiB: 64,
          gpuMode: "auto",
        },
        nvidiaSmi: "nvidia-smi",
        requireGpus: false,
        meterIntervalMs: 1_000,
      },
      endpoints: { meterToleranceMs: 2_000, processReplicas: false },
      redeem: { onJobEnd: true, confirmations: 1 },
    });
  });

  it("reads endpoint prices per 1,000 requests and tokens, and the endpoints section", () => {
    const config = parseProviderConfig({
      pricing: { requests1k: "1000000000000000", tokens1k: "20000000000000" },
      endpoints: { meterToleranceMs: 500, processReplicas: true },
    });
    expect(config.pricing.requests1k).toBe(10n ** 15n);
    expect(config.pricing.tokens1k).toBe(2n * 10n ** 13n);
    expect(config.endpoints).toEqual({ meterToleranceMs: 500, processReplicas: true });
    expect(parseProviderConfig({}).pricing.requests1k).toBeUndefined();
  });

  it("reads prices as exact bigints from decimal strings and keeps the defaults beside what is set", () => {
    const config = parseProviderConfig({
      pricing: { gpuHour: { "nvidia-h100-80gb": "2500000000000000000" }, cpuCoreHour: "1" },
      api: { port: null },
      stake: "1000000000000000000000",
    });
    expect(config.pricing).toEqual({
      gpuHour: { "nvidia-h100-80gb": 2_500_000_000_000_000_000n },
      defaultGpuHour: 2n * GRID,
      cpuCoreHour: 1n,
      memGiBHour: GRID / 200n,
      spot: false,
    });
    expect(config.api).toEqual({ host: "127.0.0.1", port: null });
    expect(config.stake).toBe(1000n * GRID);
  });

  it.each([
    ["rpcUrl", { rpcUrl: "not a url" }],
    ["api.port", { api: { port: 70_000 } }],
    ["api.port", { api: { port: "8787" } }],
    ["pricing.cpuCoreHour", { pricing: { cpuCoreHour: 0.5 } }],
    ["pricing.cpuCoreHour", { pricing: { cpuCoreHour: "-1" } }],
    ["pricing.gpuHour", { pricing: { gpuHour: { H100: "1" } } }],
    ["receipts.intervalMs", { receipts: { intervalMs: 100 } }],
    ["receipts.graceIntervals", { receipts: { graceIntervals: 0 } }],
    ["receipts.granularity", { receipts: { granularity: "hour" } }],
    ["limits.memMiB", { limits: { memMiB: 1 } }],
    ["limits.holdMs", { limits: { holdMs: 999 } }],
    ["limits.maxSuspendedS", { limits: { maxSuspendedS: -1 } }],
    ["limits.maxInputBytes", { limits: { maxInputBytes: -1 } }],
    ["limits.maxOutputBytes", { limits: { maxOutputBytes: "1GiB" } }],
    ["runtime.sandbox", { runtime: { sandbox: "docker" } }],
    ["runtime.kind", { runtime: { kind: "podman" } }],
    ["runtime.user", { runtime: { user: "0:0" } }],
    ["runtime.docker.pull", { runtime: { docker: { pull: "always" } } }],
    ["p2p.listen", { p2p: { listen: "/ip4/0.0.0.0/tcp/4001" } }],
    ["stake", { stake: 5 }],
    ["pricing.requests1k", { pricing: { requests1k: -1 } }],
    ["pricing.tokens1k", { pricing: { tokens1k: "1.5" } }],
    ["endpoints.meterToleranceMs", { endpoints: { meterToleranceMs: 60_001 } }],
    ["endpoints.meterToleranceMs", { endpoints: { meterToleranceMs: -1 } }],
    ["endpoints.processReplicas", { endpoints: { processReplicas: "yes" } }],
    ["endpoints", { endpoints: { replicas: 2 } }],
  ])("refuses a bad %s with a UsageError naming the field", (field, raw) => {
    const error = usageError(() => parseProviderConfig(raw, "config file /etc/gridspot.json"));
    expect(error.shortMessage).toBe("Invalid provider config file /etc/gridspot.json");
    expect(error.details).toContain(`${field}`);
  });

  // A misspelt key must not silently fall back to a default: `"pricng"` would price every GPU-hour
  // at the 2 GRID default instead of what the operator wrote.
  it.each([
    ["pricng", { pricng: { defaultGpuHour: "1" } }],
    ["pricing", { pricing: { defaultGpuHours: "1" } }],
    ["receipts", { receipts: { intervalMS: 1000 } }],
  ])("refuses an unknown key, naming %s", (field, raw) => {
    expect(usageError(() => parseProviderConfig(raw)).details).toContain(field);
  });

  it("refuses something that is not an object", () => {
    for (const raw of [null, [], "x", 3]) {
      expect(usageError(() => parseProviderConfig(raw)).shortMessage).toBe("Invalid provider configuration");
    }
  });
});

describe("readProviderConfigFile", () => {
  it("reads a JSON object", async () => {
    const path = join(dir, "provider.json");
    await writeFile(path, JSON.stringify({ api: { port: 0 } }));
    expect(await readProviderConfigFile(path)).toEqual({ api: { port: 0 } });
  });

  it("refuses a missing or unreadable file, naming it", async () => {
    const missing = join(dir, "missing.json");
    const error = await readProviderConfigFile(missing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).shortMessage).toBe(`Cannot read the config file ${missing}`);
    // A directory cannot be read as a file, whoever runs the test (root ignores file modes).
    await expect(readProviderConfigFile(dir)).rejects.toThrow(`Cannot read the config file ${dir}`);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, "locked.json");
      await writeFile(locked, "{}");
      await chmod(locked, 0o000);
      await expect(readProviderConfigFile(locked)).rejects.toBeInstanceOf(UsageError);
    }
  });

  it.each([
    ["not JSON", "{ port: 1 }"],
    ["empty", ""],
    ["an array", "[1, 2]"],
    ["null", "null"],
    ["a string", '"config"'],
  ])("refuses a file that is %s", async (_name, text) => {
    const path = join(dir, "provider.json");
    await writeFile(path, text);
    const error = await readProviderConfigFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).shortMessage).toBe(`The config file ${path} is not a JSON object`);
  });
});
