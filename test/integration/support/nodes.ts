// Provider nodes (separate processes, as operators run them) and submitters (in this process,
// through the CLI's own client code), each with a fresh funded wallet and its own data dir.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createSubmitter, type Submitter } from "../../../marketplace/client/createSubmitter.ts";
import { type SubmitJobReturnType, submitJob } from "../../../marketplace/client/submitJob.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import type { LocalFile } from "../../../marketplace/transfer/localInputManifest.ts";
import {
  type ProviderInfo,
  type ProviderProcess,
  startProviderProcess,
} from "../../../scripts/lib/providerProcess.ts";
import { GRID, type Market } from "./market.ts";

/** Short receipts so a job produces several vouchers in a few seconds. */
export const RECEIPT_INTERVAL_MS = 500;
export const GRACE_INTERVALS = 2;
/** Metering more often than receipts, so each note bills usage up to a moment ago. */
export const METER_INTERVAL_MS = 100;
export const GPU_CLASS = "nvidia-h100-80gb";
export const PRICES = {
  gpuHour: 3n * GRID,
  cpuCoreHour: GRID / 20n,
  memGiBHour: GRID / 200n,
} as const;

export type TestProvider = {
  key: Hex;
  address: Address;
  dataDir: string;
  info: ProviderInfo;
  process: ProviderProcess;
  /** The node's stderr so far (its log lines). */
  log(): string;
  /** The operator API, e.g. `api("/v1/jobs/ID")`. */
  api(path: string): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
};

export type StartTestProviderOptions = {
  /** Reuse a wallet and data dir (a restart); a fresh funded one otherwise. */
  reuse?: { key: Hex; dataDir: string };
  gpuProfile?: string;
  /** Environment for the node (e.g. GRIDSPOT_ADMIN_TOKEN, GRIDSPOT_LOG). */
  env?: Record<string, string>;
  config?: Record<string, unknown>;
};

/** Starts `gridspot provider start` with two fake H100s and short receipt intervals. */
export async function startTestProvider(
  market: Market,
  o: StartTestProviderOptions = {},
): Promise<TestProvider> {
  let reuse = o.reuse;
  if (reuse === undefined) {
    const { key } = await market.fundAccount(200n * GRID);
    reuse = { key, dataDir: join(market.work, `provider-${randomBytes(4).toString("hex")}`) };
  }
  const { key, dataDir } = reuse;
  const process_ = await withEnv(o.env ?? {}, () =>
    startProviderProcess({
      dataDir,
      privateKey: key,
      rpcUrl: market.rpcUrl,
      deploymentsDir: market.deploymentsDir,
      gpuProfile: o.gpuProfile ?? "h100x2",
      stderr: "pipe",
      startupTimeoutMs: 30_000,
      config: {
        pricing: {
          gpuHour: { [GPU_CLASS]: PRICES.gpuHour.toString() },
          cpuCoreHour: PRICES.cpuCoreHour.toString(),
          memGiBHour: PRICES.memGiBHour.toString(),
        },
        receipts: { intervalMs: RECEIPT_INTERVAL_MS, graceIntervals: GRACE_INTERVALS },
        runtime: { meterIntervalMs: METER_INTERVAL_MS },
        limits: { cpuCores: 2, memMiB: 4096, maxDurationS: 600, holdMs: 30_000 },
        ...o.config,
      },
    }),
  );
  let stderr = "";
  process_.child.stderr?.setEncoding("utf8");
  process_.child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-200_000);
  });
  const api = process_.info.api;
  return {
    key,
    address: privateKeyToAccount(key).address,
    dataDir,
    info: process_.info,
    process: process_,
    log: () => stderr,
    api: (path) => {
      if (api === null) throw new Error("the provider's API is off");
      return `${api}${path}`;
    },
    stop: (signal) => process_.stop(signal),
  };
}

/**
 * Runs `fn` with extra environment variables set in this process: startProviderProcess passes its
 * own environment to the node it spawns and has no option for more.
 */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

export type TestSubmitter = { submitter: Submitter; key: Hex; address: Address; dataDir: string };

/** A submitter with a fresh wallet holding `grid` GRID, bootstrapped to the given providers. */
export async function createTestSubmitter(
  market: Market,
  providers: readonly TestProvider[],
  grid = 10n * GRID,
): Promise<TestSubmitter> {
  const { key, address } = await market.fundAccount(grid);
  const dataDir = join(market.work, `submitter-${randomBytes(4).toString("hex")}`);
  const submitter = await createSubmitter(
    {
      dataDir,
      rpcUrl: market.rpcUrl,
      deploymentsDir: market.deploymentsDir,
      bootstrap: providers.map((p) => p.info.multiaddrs[0] ?? ""),
      localNetwork: true,
    },
    privateKeyToAccount(key),
  );
  return { submitter, key, address, dataDir };
}

/**
 * A job script for `node -e`: burns CPU for `ms` (a busy loop, so CPU time is metered), writes
 * `result.txt` (with `in.txt` when there is one) and exits with `exitCode`.
 */
export function burnScript(ms: number, { exitCode = 0 }: { exitCode?: number } = {}): string {
  return [
    'const fs=require("node:fs");',
    "const t0=Date.now();let n=0;",
    `while(Date.now()-t0<${ms})n++;`,
    'const input=fs.existsSync("in.txt")?fs.readFileSync("in.txt","utf8"):"";',
    'fs.writeFileSync("result.txt","burned "+input);',
    'console.log("wall "+(Date.now()-t0));',
    `process.exit(${exitCode});`,
  ].join("");
}

export type BurnJobOptions = {
  ms: number;
  exitCode?: number;
  gpus?: number;
  outputDir: string;
  /** Written to disk (beside the out dir) and sent from there, as the CLI sends `--input` files. */
  inputs?: { path: string; data: Uint8Array }[];
  redeemWaitMs?: number;
  onNote?: (note: DebitNote, verdict: string) => void;
  onLog?: (stream: "stdout" | "stderr", data: Buffer) => void;
};

/**
 * Writes `files` under `dir` and returns their manifest entries, as `localInputManifest` would for
 * them (each at its own path in the work dir).
 */
export async function stageInputs(
  dir: string,
  files: readonly { path: string; data: Uint8Array }[],
): Promise<LocalFile[]> {
  return Promise.all(
    files.map(async ({ path, data }) => {
      const source = join(dir, path);
      await mkdir(dirname(source), { recursive: true });
      await writeFile(source, data);
      return { path, source, size: data.length, sha256: createHash("sha256").update(data).digest("hex") };
    }),
  );
}

/** Submits a burn job through `submitJob`, the CLI's own code path. */
export async function submitBurnJob(s: TestSubmitter, o: BurnJobOptions): Promise<SubmitJobReturnType> {
  const inputs = await stageInputs(`${o.outputDir}-inputs`, o.inputs ?? []);
  return submitJob(s.submitter, {
    requirements: { gpus: o.gpus ?? 1, gpuClass: GPU_CLASS, cpuCores: 1, memMiB: 512, maxDurationS: 120 },
    maxRates: [{ meter: "gpu_ms", price: 5n * GRID, per: 3_600_000n }],
    budget: GRID,
    spec: {
      command: process.execPath,
      args: ["-e", burnScript(o.ms, { exitCode: o.exitCode ?? 0 })],
      env: {},
      outputs: ["result.txt"],
    },
    inputs,
    outputDir: o.outputDir,
    bidWindowMs: 1_000,
    explain: true,
    redeemWaitMs: o.redeemWaitMs ?? 20_000,
    events: {
      ...(o.onNote === undefined ? {} : { onNote: o.onNote }),
      ...(o.onLog === undefined ? {} : { onLog: o.onLog }),
    },
  });
}

/**
 * The most an agreement's rates can bill for `ms` of running time: every meter at the most the job
 * may use (its GPUs, cores and memory the whole time), rounded up.
 */
export function worthOf(
  agreement: {
    gpus: number;
    cpuCores: number;
    memMiB: number;
    rates: { meter: string; price: bigint; per: bigint }[];
  },
  ms: bigint,
): bigint {
  const most: Record<string, bigint> = {
    gpu_ms: BigInt(agreement.gpus) * ms,
    cpu_core_ms: BigInt(agreement.cpuCores) * ms,
    mem_mib_ms: BigInt(agreement.memMiB) * ms,
  };
  let total = 0n;
  for (const rate of agreement.rates) {
    const quantity = most[rate.meter];
    if (quantity === undefined) throw new Error(`no bound for meter ${rate.meter}`);
    total += (quantity * rate.price + rate.per - 1n) / rate.per;
  }
  return total;
}
