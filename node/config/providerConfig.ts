import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { UsageError } from "../../marketplace/errors/usage.ts";
import { MAX_METER_TOLERANCE_MS } from "../../marketplace/messages/endpoint.ts";
import { summarizeZodError } from "../../marketplace/messages/envelope.ts";
import { gpuClass, granularity, uint } from "../../marketplace/messages/primitives.ts";
import {
  DEFAULT_MAX_JOB_INPUT_BYTES,
  DEFAULT_MAX_JOB_OUTPUT_BYTES,
  DEFAULT_MAX_SUSPENDED_S,
} from "../../marketplace/p2p/constants.ts";
import type { PriceCurve } from "../pricing/nextPrice.ts";

const GRID = 10n ** 18n;
const GPU_CLASS = /^[a-z0-9]+-[a-z0-9]+-[0-9]+gb$/;

/**
 * One resource class's price curve (DESIGN §6): prices per hour in token base units like the fixed
 * ones, utilization and step in basis points.
 */
const priceCurve = z
  .object({
    base: uint,
    floor: uint.refine((v) => v > 0n, "floor must be positive: a price of 0 could never rise again"),
    ceiling: uint,
    /** The utilization the price aims for, basis points (7000 = 70 %). */
    targetUtilization: z.number().int().min(0).max(10_000),
    /** The most the price moves in one epoch, basis points (1250 = 12.5 %). */
    maxStep: z.number().int().min(1).max(10_000),
  })
  .strict()
  .refine((c) => c.floor <= c.base && c.base <= c.ceiling, "expected floor ≤ base ≤ ceiling")
  .transform(
    (c): PriceCurve => ({
      base: c.base,
      floor: c.floor,
      ceiling: c.ceiling,
      targetUtilizationBps: c.targetUtilization,
      maxStepBps: c.maxStep,
    }),
  );

const dynamicPricing = z
  .object({
    /** How often prices move, in milliseconds. */
    epochMs: z.number().int().min(1_000).default(60_000),
    /** Keyed by GPU class (per GPU-hour), `cpu` (per core-hour) or `mem` (per GiB-hour). */
    curves: z.record(
      z
        .string()
        .refine((k) => k === "cpu" || k === "mem" || GPU_CLASS.test(k), "expected a GPU class, cpu or mem"),
      priceCurve,
    ),
  })
  .strict();

/**
 * A provider operator's configuration. Read from a JSON file (`--config`), then GRIDSPOT_* variables
 * and flags override single keys. Prices are token base units per hour (per GPU, per core, per GiB).
 * The wallet key never goes in this file: GRIDSPOT_PRIVATE_KEY (development) or a keystore file
 * opened with GRIDSPOT_PASSWORD.
 */
export const providerConfig = z
  .object({
    dataDir: z.string().default(join(homedir(), ".gridspot", "provider")),
    rpcUrl: z.string().url().default("http://127.0.0.1:8545"),
    /** Where `deployments/<chainId>.json` is read from. */
    deploymentsDir: z.string().optional(),
    keystore: z.string().optional(),
    p2p: z
      .object({
        listen: z.array(z.string()).default(["/ip4/127.0.0.1/tcp/0"]),
        bootstrap: z.array(z.string()).default([]),
        /** Relax gossipsub's IP-colocation penalty: for a network of peers on one host only. */
        localNetwork: z.boolean().default(false),
      })
      .strict()
      .default({}),
    api: z
      .object({
        host: z.string().default("127.0.0.1"),
        /** 0 picks a free port; null turns the API off. */
        port: z.number().int().min(0).max(65535).nullable().default(8787),
      })
      .strict()
      .default({}),
    /** Stake bonded at registration; defaults to the registry's minimum. */
    stake: uint.optional(),
    pricing: z
      .object({
        gpuHour: z.record(gpuClass, uint).default({}),
        /** For GPU classes not listed in gpuHour. */
        defaultGpuHour: uint.default(2n * GRID),
        cpuCoreHour: uint.default(GRID / 50n),
        /**
         * Bid spot agreements: the rate of a running job follows the dynamic price at each debit
         * note, never above the curve's ceiling (nor the order's maximum). Off: fixed agreements.
         */
        spot: z.boolean().default(false),
        /** The least any job costs (the agreement's minimum charge); announced in every bid. */
        minimumCharge: uint.optional(),
        memGiBHour: uint.default(GRID / 200n),
        /**
         * Endpoints (DESIGN §12): per 1,000 requests and per 1,000 tokens their replicas answer, as
         * the node's proxy counts them; bid only where the order caps the meter (maxRates and
         * maxUsage). Absent: requests and tokens are not billed.
         */
        requests1k: uint.optional(),
        tokens1k: uint.optional(),
        /** Prices that move with demand, per resource class; absent: the fixed prices above. */
        dynamic: dynamicPricing.optional(),
      })
      .strict()
      .default({}),
    receipts: z
      .object({
        intervalMs: z.number().int().min(200).default(5_000),
        graceIntervals: z.number().int().min(1).max(10).default(2),
        granularity: granularity.default("ms"),
      })
      .strict()
      .default({}),
    limits: z
      .object({
        maxDurationS: z
          .number()
          .int()
          .min(1)
          .default(24 * 3600),
        cpuCores: z.number().int().min(1).optional(),
        memMiB: z.number().int().min(64).optional(),
        /** How long capacity stays held after an Accept for the job to start. */
        holdMs: z.number().int().min(1000).default(60_000),
        /**
         * The longest a job stays suspended (its capacity held, nothing billed) while its payer is
         * away, waiting for its agent to come back; an order asks for up to this much.
         */
        maxSuspendedS: z
          .number()
          .int()
          .min(0)
          .max(7 * 86_400)
          .default(DEFAULT_MAX_SUSPENDED_S),
        /** The most input bytes one job may send; a start whose manifest says more is refused. */
        maxInputBytes: z
          .number()
          .int()
          .min(0)
          .max(Number.MAX_SAFE_INTEGER)
          .default(DEFAULT_MAX_JOB_INPUT_BYTES),
        /** The most output bytes sent back per job; matched files beyond it are dropped and named. */
        maxOutputBytes: z
          .number()
          .int()
          .min(0)
          .max(Number.MAX_SAFE_INTEGER)
          .default(DEFAULT_MAX_JOB_OUTPUT_BYTES),
      })
      .strict()
      .default({}),
    runtime: z
      .object({
        /**
         * Where jobs run: `docker` (containers through the Docker Engine), `process` (bubblewrap), or
         * `auto`: Docker when its socket answers at start, else the process runtime.
         */
        kind: z.enum(["auto", "docker", "process"]).default("auto"),
        /**
         * The process runtime's sandbox: `auto` and `bwrap` need a working bubblewrap (the node refuses
         * to start without one); only an explicit `none` runs jobs unsandboxed.
         */
        sandbox: z.enum(["auto", "bwrap", "none"]).default("auto"),
        /** The unprivileged user jobs run as, `uid:gid` (never root). */
        user: z
          .string()
          .regex(/^[0-9]+:[0-9]+$/, "expected uid:gid, e.g. 65534:65534")
          .refine((u) => !u.startsWith("0:"), "jobs never run as root (uid 0)")
          .default("65534:65534"),
        /** `none`: jobs have no network; `egress`: Docker jobs may reach out (metered as egress_bytes). */
        network: z.enum(["none", "egress"]).default("none"),
        /** Processes and threads one job may run at once. */
        pidsLimit: z.number().int().min(8).max(1_000_000).default(1024),
        /** The most a job's work dir may hold, MiB (killed with reason disk-quota past it). */
        diskMiB: z.number().int().min(1).default(10_240),
        /** Keep containers and work dirs after a job (debugging); they are removed by default. */
        keepWorkDirs: z.boolean().default(false),
        docker: z
          .object({
            socketPath: z.string().default("/var/run/docker.sock"),
            /** `never`: run only images present on the host; `missing`: pull an allowed image first. */
            pull: z.enum(["never", "missing"]).default("never"),
            /** Repositories (`repo`, `repo:tag`, `prefix/*`) and digests jobs may or may not use. */
            allow: z.array(z.string().min(1).max(512)).optional(),
            deny: z.array(z.string().min(1).max(512)).default([]),
            digests: z.array(z.string().regex(/^sha256:[0-9a-f]{64}$/)).optional(),
            maxImageMiB: z.number().int().min(1).optional(),
            /** The image of jobs that name none; without it such orders are declined. */
            defaultImage: z.string().min(1).max(512).optional(),
            /** Size of the job's private /tmp (tmpfs, counted in its memory). */
            tmpfsMiB: z.number().int().min(1).max(65_536).default(64),
            /** How GPUs reach containers: the NVIDIA Container Toolkit, CDI device names, or found at start. */
            gpuMode: z.enum(["auto", "nvidia", "cdi"]).default("auto"),
          })
          .strict()
          .default({}),
        nvidiaSmi: z.string().default("nvidia-smi"),
        /**
         * Refuse to start when GPUs are expected but nvidia-smi finds none, or when the runtime cannot
         * give them to jobs (Docker without the NVIDIA Container Toolkit or CDI specs).
         */
        requireGpus: z.boolean().default(false),
        /** Refuse to start unless nvidia-smi finds at least this many GPUs (the GPU preflight). */
        expectGpus: z.number().int().min(0).max(1024).optional(),
        meterIntervalMs: z.number().int().min(100).default(1_000),
      })
      .strict()
      .default({}),
    /** Serving endpoints (DESIGN §12): replicas of an image behind the node's HTTP proxy. */
    endpoints: z
      .object({
        /**
         * How long after a note the payer's gateway may take to count what the node's proxy counted
         * (answers in transit); announced in every endpoint bid, at most 60 s.
         */
        meterToleranceMs: z.number().int().min(0).max(MAX_METER_TOLERANCE_MS).default(2_000),
        /**
         * DEVELOPMENT AND TESTS ONLY: serve endpoints without an image, their replicas run as plain
         * local processes (the provider's own user, its files and environment, a port any local
         * process can reach; every GPU of the host visible): NO isolation. Off (the default): only image endpoints on the Docker
         * runtime are served, each replica a locked-down container on a network of its own.
         */
        processReplicas: z.boolean().default(false),
      })
      .strict()
      .default({}),
    redeem: z
      .object({
        /** Redeem as soon as a job ends (otherwise only on `provider redeem` or the API). */
        onJobEnd: z.boolean().default(true),
        /**
         * Blocks a redemption needs (its own included) before the ledger counts it as paid; until
         * then, and whenever the chain loses it, its voucher stays in the redemption queue.
         */
        confirmations: z.number().int().min(1).max(1_000).default(1),
      })
      .strict()
      .default({}),
  })
  // A misspelt key ("pricng") is an error, never a silently ignored setting.
  .strict();
export type ProviderConfig = z.infer<typeof providerConfig>;

/** Parses a config object; a bad one is a UsageError naming the file and the fields. */
export function parseProviderConfig(raw: unknown, source = "configuration"): ProviderConfig {
  const parsed = providerConfig.safeParse(raw);
  if (!parsed.success)
    throw new UsageError(`Invalid provider ${source}`, { details: summarizeZodError(parsed.error) });
  return parsed.data;
}

export async function readProviderConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new UsageError(`Cannot read the config file ${path}`, { cause: error });
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
    return value as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`The config file ${path} is not a JSON object`, { cause: error });
  }
}
