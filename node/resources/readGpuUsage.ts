import {
  NVIDIA_SMI_COMPUTE_APPS_ARGS,
  NVIDIA_SMI_SAMPLE_TIMEOUT_MS,
  NVIDIA_SMI_UTILIZATION_ARGS,
} from "./constants.ts";
import { ResourceDetectionError } from "./errors.ts";
import { parseComputeApps } from "./parseComputeApps.ts";
import { parseGpuUtilization } from "./parseGpuUtilization.ts";
import { type NvidiaSmiRun, type RunNvidiaSmiOptions, runNvidiaSmi } from "./runNvidiaSmi.ts";
import type { GpuComputeApp, GpuUtilization } from "./types.ts";

/** One reading of the GPUs for metering: every GPU's utilization and every GPU process's memory. */
export interface GpuReading {
  gpus: GpuUtilization[];
  apps: GpuComputeApp[];
}

/**
 * Runs the two metering queries of nvidia-smi at once (utilization per GPU, memory per process) and
 * parses them. Default timeout {@link NVIDIA_SMI_SAMPLE_TIMEOUT_MS}.
 * @throws ResourceDetectionError naming the command and what it printed when either query fails,
 * nvidia-smi is missing, or its output has an unexpected shape.
 */
export async function readGpuUsage(options: RunNvidiaSmiOptions = {}): Promise<GpuReading> {
  const run = { ...options, timeoutMs: options.timeoutMs ?? NVIDIA_SMI_SAMPLE_TIMEOUT_MS };
  const [utilization, apps] = await Promise.all([
    runNvidiaSmi(NVIDIA_SMI_UTILIZATION_ARGS, run),
    runNvidiaSmi(NVIDIA_SMI_COMPUTE_APPS_ARGS, run),
  ]);
  return {
    gpus: parse(utilization, parseGpuUtilization),
    apps: parse(apps, parseComputeApps),
  };
}

function parse<T>(run: NvidiaSmiRun, parser: (stdout: string) => T): T {
  if (run.kind === "failed") throw run.error;
  if (run.kind !== "ok") {
    const said = run.kind === "missing" ? "was not found" : `printed: ${run.output}`;
    throw new ResourceDetectionError(`\`${run.commandLine}\` ${said}`, { command: run.commandLine });
  }
  try {
    return parser(run.stdout);
  } catch (error) {
    throw new ResourceDetectionError(
      `\`${run.commandLine}\`: ${(error as Error).message}`,
      { command: run.commandLine, stdout: run.stdout },
      error,
    );
  }
}
