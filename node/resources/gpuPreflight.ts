import { availableParallelism, totalmem } from "node:os";
import { NVIDIA_SMI_QUERY_ARGS } from "./constants.ts";
import { GpuPreflightError } from "./errors.ts";
import { parseNvidiaSmiHeader } from "./parseNvidiaSmiHeader.ts";
import { parseNvidiaSmiQuery } from "./parseNvidiaSmiQuery.ts";
import { runNvidiaSmi } from "./runNvidiaSmi.ts";
import type { GpuPreflight, NodeResources } from "./types.ts";

/** Options for {@link gpuPreflight}. */
export interface GpuPreflightOptions {
  /** The nvidia-smi to run. Default `nvidia-smi`, the real binary found on PATH. */
  nvidiaSmiPath?: string | undefined;
  /** Environment for nvidia-smi. Default `process.env`. */
  env?: NodeJS.ProcessEnv | undefined;
  /** Fail unless at least one GPU is found (`runtime.requireGpus`). */
  requireGpus?: boolean | undefined;
  /** Fail unless at least this many GPUs are found (`runtime.expectGpus`). */
  expectGpus?: number | undefined;
  timeoutMs?: number | undefined;
}

export interface GpuPreflightResult {
  resources: NodeResources;
  preflight: GpuPreflight;
}

/**
 * Checks the GPUs before a provider starts: runs the GPU query (index, uuid, name, memory, driver)
 * and plain `nvidia-smi` for the CUDA version in its header, and reports driver, CUDA version, GPU
 * count and classes, with the CPU cores and memory of the machine.
 *
 * Without `requireGpus` or `expectGpus`, a machine without nvidia-smi or without GPUs is CPU only.
 * A broken nvidia-smi always fails: the operator installed a driver that does not work.
 * @throws GpuPreflightError naming the command line and what it printed when nvidia-smi is missing
 * and GPUs are configured, fails, prints something unexpected, or finds fewer GPUs than expected.
 */
export async function gpuPreflight(options: GpuPreflightOptions = {}): Promise<GpuPreflightResult> {
  const command = options.nvidiaSmiPath ?? "nvidia-smi";
  const expected = options.expectGpus ?? 0;
  if (!Number.isSafeInteger(expected) || expected < 0) {
    throw new GpuPreflightError(`expectGpus must be a non-negative integer, got ${expected}`);
  }
  const why =
    options.expectGpus !== undefined && expected > 0
      ? `runtime.expectGpus is ${expected}`
      : options.requireGpus === true
        ? "runtime.requireGpus is set"
        : undefined;
  const machine = { cpuCores: availableParallelism(), memMiB: Math.floor(totalmem() / 1_048_576) };
  const none = (state: "missing" | "no-devices"): GpuPreflightResult => ({
    resources: { ...machine, gpus: [] },
    preflight: {
      nvidiaSmi: command,
      state,
      driverVersion: null,
      cudaVersion: null,
      gpuCount: 0,
      classes: {},
      gpus: [],
    },
  });

  const query = await runNvidiaSmi(NVIDIA_SMI_QUERY_ARGS, options);
  if (query.kind === "missing") {
    if (why === undefined) return none("missing");
    throw new GpuPreflightError(`GPUs are configured (${why}) but \`${command}\` was not found`, {
      metaMessages: [
        "Install the NVIDIA driver, or point runtime.nvidiaSmi at nvidia-smi.",
        `Ran: ${query.commandLine}`,
      ],
    });
  }
  if (query.kind === "no-devices") {
    if (why === undefined) return none("no-devices");
    throw new GpuPreflightError(`GPUs are configured (${why}) but \`${query.commandLine}\` found none`, {
      details: query.output,
    });
  }
  if (query.kind === "failed") {
    throw new GpuPreflightError(`GPU preflight failed: ${query.error.message}`, { cause: query.error });
  }
  let gpus: ReturnType<typeof parseNvidiaSmiQuery>;
  try {
    gpus = parseNvidiaSmiQuery(query.stdout);
  } catch (error) {
    throw new GpuPreflightError(
      `GPU preflight failed: \`${query.commandLine}\`: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (gpus.length < expected || (options.requireGpus === true && gpus.length === 0)) {
    throw new GpuPreflightError(
      `GPUs are configured (${why}) but \`${query.commandLine}\` found ${gpus.length}`,
      { details: query.stdout.trim() === "" ? "(it printed nothing)" : query.stdout.trim() },
    );
  }
  if (gpus.length === 0) return none("no-devices");

  const table = await runNvidiaSmi([], options);
  if (table.kind !== "ok") {
    const said = table.kind === "failed" ? table.error.message : `\`${table.commandLine}\`: ${table.kind}`;
    throw new GpuPreflightError(`GPU preflight failed: ${said}`);
  }
  const header = parseNvidiaSmiHeader(table.stdout);
  const classes: Record<string, number> = {};
  for (const gpu of gpus) classes[gpu.class] = (classes[gpu.class] ?? 0) + 1;
  return {
    resources: { ...machine, gpus },
    preflight: {
      nvidiaSmi: command,
      state: "ok",
      driverVersion: gpus[0]?.driverVersion ?? header.driverVersion,
      cudaVersion: header.cudaVersion,
      gpuCount: gpus.length,
      classes,
      gpus: gpus.map(({ index, uuid, name, class: gpuClass, vramMiB }) => ({
        index,
        uuid,
        name,
        class: gpuClass,
        vramMiB,
      })),
    },
  };
}
