import { type ExecFileException, execFile } from "node:child_process";
import { availableParallelism, totalmem } from "node:os";
import { NVIDIA_SMI_EXIT_NO_DEVICES, NVIDIA_SMI_QUERY_ARGS, NVIDIA_SMI_TIMEOUT_MS } from "./constants.ts";
import { ResourceDetectionError } from "./errors.ts";
import { parseNvidiaSmiQuery } from "./parseNvidiaSmiQuery.ts";
import type { NodeResources } from "./types.ts";

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

async function detectGpus(options: DetectResourcesOptions) {
  const command = options.nvidiaSmiPath ?? "nvidia-smi";
  const commandLine = [command, ...NVIDIA_SMI_QUERY_ARGS].join(" ");
  const run = await new Promise<{ error: ExecFileException | null; stdout: string; stderr: string }>(
    (resolve) => {
      execFile(
        command,
        NVIDIA_SMI_QUERY_ARGS,
        {
          env: options.env ?? process.env,
          timeout: options.timeoutMs ?? NVIDIA_SMI_TIMEOUT_MS,
          encoding: "utf8",
        },
        (error, stdout, stderr) => resolve({ error, stdout, stderr }),
      );
    },
  );
  const { error, stdout, stderr } = run;
  if (error?.code === "ENOENT") return [];
  if (error !== null) {
    const exit = error;
    if (exit.code === NVIDIA_SMI_EXIT_NO_DEVICES && /no devices were found/i.test(stdout + stderr)) return [];
    const how = exit.killed
      ? `timed out after ${options.timeoutMs ?? NVIDIA_SMI_TIMEOUT_MS} ms`
      : typeof exit.code === "number"
        ? `exited with code ${exit.code}`
        : `failed (${exit.signal ?? exit.code ?? exit.message})`;
    // nvidia-smi prints its own failures (e.g. "couldn't communicate with the NVIDIA driver") on stdout.
    const output = [stderr.trim(), stdout.trim()]
      .filter((s) => s !== "")
      .join("\n")
      .slice(0, 2_000);
    throw new ResourceDetectionError(
      `\`${commandLine}\` ${how}${output === "" ? "" : `: ${output}`}`,
      { command: commandLine, exitCode: exit.code, signal: exit.signal, stderr, stdout },
      error,
    );
  }
  try {
    return parseNvidiaSmiQuery(stdout);
  } catch (parseError) {
    const message = parseError instanceof Error ? parseError.message : String(parseError);
    throw new ResourceDetectionError(
      `\`${commandLine}\`: ${message}`,
      { command: commandLine, stdout, stderr },
      parseError,
    );
  }
}
