import { availableParallelism, totalmem } from "node:os";
import { NVIDIA_SMI_QUERY_ARGS } from "./constants.ts";
import { ResourceDetectionError } from "./errors.ts";
import { parseNvidiaSmiQuery } from "./parseNvidiaSmiQuery.ts";
import { runNvidiaSmi } from "./runNvidiaSmi.ts";
import type { GpuInfo, NodeResources } from "./types.ts";

/** Options for {@link detectResources}. */
export interface DetectResourcesOptions {
  /** The nvidia-smi to run. Default `nvidia-smi`, the real binary found on PATH. */
  nvidiaSmiPath?: string;
  /** Environment for nvidia-smi (its PATH resolves the command). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Fail instead of falling back to CPU only when no GPU is found. Default false. */
  requireGpus?: boolean;
  /** Default {@link NVIDIA_SMI_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/**
 * Detects CPU cores (those this process may run on), total memory and NVIDIA GPUs.
 *
 * GPUs come from one nvidia-smi query. No nvidia-smi at all (ENOENT) or "No devices were found"
 * means a CPU-only machine, unless `requireGpus` is set.
 * @throws ResourceDetectionError naming the command and its output when nvidia-smi fails, times
 * out or prints something unexpected, or when GPUs are required and there are none.
 */
export async function detectResources(options: DetectResourcesOptions = {}): Promise<NodeResources> {
  const gpus = await detectGpus(options);
  if (options.requireGpus === true && gpus.length === 0) {
    throw new ResourceDetectionError("GPUs are required but none were found", {
      command: options.nvidiaSmiPath ?? "nvidia-smi",
    });
  }
  return {
    cpuCores: availableParallelism(),
    memMiB: Math.floor(totalmem() / 1_048_576),
    gpus,
  };
}

async function detectGpus(options: DetectResourcesOptions): Promise<GpuInfo[]> {
  const run = await runNvidiaSmi(NVIDIA_SMI_QUERY_ARGS, options);
  if (run.kind === "missing" || run.kind === "no-devices") return [];
  if (run.kind === "failed") throw run.error;
  try {
    return parseNvidiaSmiQuery(run.stdout);
  } catch (parseError) {
    const message = parseError instanceof Error ? parseError.message : String(parseError);
    throw new ResourceDetectionError(
      `\`${run.commandLine}\`: ${message}`,
      { command: run.commandLine, stdout: run.stdout, stderr: run.stderr },
      parseError,
    );
  }
}
