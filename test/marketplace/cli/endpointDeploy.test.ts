import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { agentDeployRequest } from "../../../marketplace/agent/endpointRequests.ts";
import {
  DEFAULT_COUNTED_CEILING,
  defaultCountedCeiling,
  type EndpointDeployFlags,
  endpointDeployRequest,
} from "../../../marketplace/cli/commands/endpointDeployRequest.ts";
import { parseMaxRates } from "../../../marketplace/cli/commands/jobFlags.ts";
import { main } from "../../../marketplace/cli/main.ts";
import { UsageError } from "../../../marketplace/errors/usage.ts";
import { DEFAULT_ORDER_MAX_SUSPENDED_S } from "../../../marketplace/p2p/constants.ts";

const GRID = 10n ** 18n;
const MODEL_SERVER = ["--port", "8000", "--host", "0.0.0.0"];

/** The least a deploy needs: a price, a budget and a command. */
const deploy = (flags: EndpointDeployFlags, command: string[] = MODEL_SERVER) =>
  endpointDeployRequest({ maxPrice1kRequests: "0.01", budget: "50", ...flags }, { operands: [], command });

const usage = (flags: EndpointDeployFlags, command: string[] = MODEL_SERVER): string => {
  try {
    deploy(flags, command);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).shortMessage;
  }
  throw new Error("expected a UsageError");
};

describe("endpoint deploy's flags → the agent's deploy request", () => {
  it("turns the issue's example into the request, every value where the agent expects it", () => {
    const request = endpointDeployRequest(
      {
        image: "gridspot/model-server:local",
        port: "8000",
        gpus: "1",
        gpuClass: "nvidia-h100-80gb",
        minReplicas: "0",
        maxReplicas: "4",
        idleTimeout: "30s",
        coldStartTimeout: "2m",
        healthPath: "/healthz",
        tokenHeader: "x-usage-tokens",
        providers: "2",
        cpus: "4",
        mem: "16384",
        maxDuration: "7200",
        maxPriceGpuHour: "3",
        maxPrice1kTokens: "0.002",
        maxPrice1kRequests: "0.01",
        budget: "50",
        env: ["MODEL=tiny"],
        bidWindow: "2000",
        explain: true,
        maxSuspended: "1h",
      },
      { operands: [], command: MODEL_SERVER },
    );
    expect(request).toEqual({
      requirements: { gpus: 1, gpuClass: "nvidia-h100-80gb", cpuCores: 4, memMiB: 16384, maxDurationS: 7200 },
      minReplicas: 0,
      maxReplicas: 4,
      providers: 2,
      maxRates: [
        { meter: "gpu_ms", price: 3n * GRID, per: 3_600_000n },
        { meter: "requests", price: GRID / 100n, per: 1000n },
        { meter: "tokens", price: (2n * GRID) / 1000n, per: 1000n },
      ],
      // What 50 GRID buys at the ceiling prices: 5 M requests, 25 M tokens; both under the 10^9 floor.
      maxUsage: { requests: DEFAULT_COUNTED_CEILING, tokens: DEFAULT_COUNTED_CEILING },
      budget: 50n * GRID,
      spec: {
        image: "gridspot/model-server:local",
        command: "--port",
        args: ["8000", "--host", "0.0.0.0"],
        env: { MODEL: "tiny" },
        outputs: [],
        endpoint: {
          port: 8000,
          idleTimeoutS: 30,
          coldStartTimeoutS: 120,
          healthPath: "/healthz",
          tokenHeader: "x-usage-tokens",
        },
      },
      bidWindowMs: 2000,
      explain: true,
      maxSuspendedS: 3600,
    });
    // And the agent's own schema takes it as it is.
    expect(agentDeployRequest.safeParse(request).success).toBe(true);
  });

  it("defaults what was not given", () => {
    const request = deploy({}, ["python3", "serve.py"]);
    expect(request).toMatchObject({
      requirements: { gpus: 0, cpuCores: 1, memMiB: 512, maxDurationS: 86_400 },
      minReplicas: 0,
      maxReplicas: 1,
      providers: 1,
      bidWindowMs: 1500,
      explain: false,
      maxSuspendedS: DEFAULT_ORDER_MAX_SUSPENDED_S,
      spec: {
        command: "python3",
        args: ["serve.py"],
        env: {},
        endpoint: { port: 8000, idleTimeoutS: 300, coldStartTimeoutS: 120, healthPath: "/health" },
      },
    });
    expect(request.spec.image).toBeUndefined();
    expect(request.spec.endpoint.tokenHeader).toBeUndefined();
  });

  it("keeps a counted meter's ceiling when given, and derives it from the budget when not", () => {
    expect(deploy({ maxRequests: "1000" }).maxUsage).toEqual({ requests: 1000n });
    // 2,000 GRID at 0.001 GRID per 1k tokens buys 2 × 10^9 tokens: above the floor, so that.
    expect(
      deploy({ maxPrice1kRequests: undefined, maxPrice1kTokens: "0.001", budget: "2000" }).maxUsage,
    ).toEqual({
      tokens: 2_000_000_000n,
    });
    // Time alone needs no counted ceiling.
    expect(deploy({ maxPrice1kRequests: undefined, maxPriceGpuHour: "2" }).maxUsage).toBeUndefined();
  });

  it("derives the default ceiling rounding up, never under 10^9, and 10^9 for a free meter", () => {
    const rate = { meter: "requests", price: 3n, per: 1000n } as const;
    expect(defaultCountedCeiling(10n ** 7n, rate)).toBe(3_333_333_334n);
    expect(defaultCountedCeiling(1n, rate)).toBe(DEFAULT_COUNTED_CEILING);
    expect(defaultCountedCeiling(GRID, { ...rate, price: 0n })).toBe(DEFAULT_COUNTED_CEILING);
  });

  it.each<[EndpointDeployFlags, RegExp]>([
    [{ budget: undefined }, /--budget is required/],
    [{ budget: "0" }, /--budget must be more than 0 GRID/],
    [{ budget: "lots" }, /--budget must be an amount of GRID/],
    [{ maxPrice1kRequests: undefined }, /Give at least one price ceiling/],
    [
      { maxRequests: "10", maxPrice1kRequests: undefined, maxPriceGpuHour: "1" },
      /--max-requests and --max-price-1k-requests go together/,
    ],
    [{ minReplicas: "3", maxReplicas: "2" }, /--min-replicas \(3\) cannot be more than --max-replicas \(2\)/],
    [{ maxReplicas: "0" }, /--max-replicas must be from 1 to 64, got 0/],
    [{ maxReplicas: "65" }, /--max-replicas must be from 1 to 64/],
    [{ minReplicas: "-1" }, /--min-replicas must be a whole number, got "-1"/],
    [
      { gpus: "8", maxReplicas: "16" },
      /--max-replicas 16 × one replica's --gpus, --cpus or --mem is more than one order may ask/,
    ],
    [{ providers: "0" }, /--providers must be from 1 to 8, got 0/],
    [{ providers: "9" }, /--providers must be from 1 to 8, got 9/],
    [{ port: "0" }, /--port must be from 1 to 65535, got 0/],
    [{ port: "70000" }, /--port must be from 1 to 65535, got 70000/],
    [{ port: "http" }, /--port must be a whole number, got "http"/],
    [{ idleTimeout: "soon" }, /--idle-timeout takes a duration like 90, 90s, 15m/],
    [{ idleTimeout: "0s" }, /--idle-timeout must be from 1 s to 1 d/],
    [{ idleTimeout: "2d" }, /--idle-timeout must be from 1 s to 1 d/],
    [{ coldStartTimeout: "2h" }, /--cold-start-timeout must be from 1 s to 1 h/],
    [{ healthPath: "health" }, /--health-path must be an absolute path such as \/health, got "health"/],
    [{ healthPath: "/he alth" }, /--health-path: expected an absolute path such as \/health/],
    [{ tokenHeader: "x tokens" }, /--token-header: expected an HTTP header name/],
    [{ image: "Not An Image" }, /--image must be an image reference/],
    [{ gpuClass: "H100" }, /--gpu-class must look like nvidia-h100-80gb/],
    [{ env: ["1X=y"] }, /--env: /],
    [{ env: ["novalue"] }, /--env takes NAME=VALUE/],
    [{ bidWindow: "50" }, /--bid-window: /],
    [{ maxSuspended: "forever" }, /--max-suspended takes a duration/],
  ])("refuses %j in words", (flags, message) => {
    expect(usage(flags)).toMatch(message);
  });

  it("asks for the command after --, naming what it is for", () => {
    expect(usage({}, [])).toMatch(/Give the replica's command \(for an image: its arguments\) after --/);
  });
});

describe("the counted meters' flags, shared with job submit", () => {
  it("still refuses a price without a ceiling for a job (no default ceiling)", () => {
    expect(() => parseMaxRates({ maxPrice1kTokens: "0.1" })).toThrow(
      /--max-tokens and --max-price-1k-tokens go together/,
    );
  });

  it("refuses a ceiling without a price even with a default ceiling", () => {
    expect(() => parseMaxRates({ maxTokens: "5" }, { defaultCeiling: () => 1n })).toThrow(
      /--max-tokens and --max-price-1k-tokens go together/,
    );
  });
});

describe("gridspot endpoint deploy (in process)", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "gridspot-endpoint-cli-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  /** Runs the CLI's main with stderr captured; no agent runs for this data dir. */
  async function run(args: string[]): Promise<{ code: number; stderr: string }> {
    let stderr = "";
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
    try {
      return { code: await main(["--data-dir", dataDir, ...args]), stderr };
    } finally {
      spy.mockRestore();
    }
  }

  it("exits 2 on a bad flag, with the message and no stack trace", async () => {
    const { code, stderr } = await run([
      "endpoint",
      "deploy",
      "--budget",
      "5",
      "--max-price-1k-requests",
      "0.01",
      "--min-replicas",
      "2",
      "--",
      ...MODEL_SERVER,
    ]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/--min-replicas \(2\) cannot be more than --max-replicas \(1\)/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("keeps the command's own flags after -- and says how to start the agent", async () => {
    const { code, stderr } = await run([
      "endpoint",
      "deploy",
      "--budget",
      "5",
      "--max-price-1k-requests",
      "0.01",
      "--",
      ...MODEL_SERVER,
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/No payer agent is running/);
    expect(stderr).toMatch(/gridspot agent start/);
  });
});
