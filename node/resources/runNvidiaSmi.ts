import { execFile } from "node:child_process";
import { NVIDIA_SMI_EXIT_NO_DEVICES, NVIDIA_SMI_TIMEOUT_MS } from "./constants.ts";
import { ResourceDetectionError } from "./errors.ts";

/** Options for {@link runNvidiaSmi}. */
export interface RunNvidiaSmiOptions {
  /** The nvidia-smi to run. Default `nvidia-smi`, the real binary found on PATH. */
  nvidiaSmiPath?: string | undefined;
  /** Environment for nvidia-smi (its PATH resolves the command). Default `process.env`. */
  env?: NodeJS.ProcessEnv | undefined;
  /** Default {@link NVIDIA_SMI_TIMEOUT_MS}. */
  timeoutMs?: number | undefined;
}

/**
 * What one nvidia-smi run gave: its output, or why there is none. `missing` (not installed) and
 * `no-devices` (a working driver without a GPU) are answers about the machine, not failures.
 */
export type NvidiaSmiRun =
  | { kind: "ok"; commandLine: string; stdout: string; stderr: string }
  | { kind: "missing"; commandLine: string }
  | { kind: "no-devices"; commandLine: string; output: string }
  | { kind: "failed"; commandLine: string; error: ResourceDetectionError };

/**
 * Runs nvidia-smi once with `args`. Never rejects: a failure (non-zero exit, timeout, signal) comes
 * back as `failed` with an error that names the command line and quotes what it printed (nvidia-smi
 * prints its own failures, e.g. "couldn't communicate with the NVIDIA driver", on stdout).
 */
export function runNvidiaSmi(
  args: readonly string[],
  options: RunNvidiaSmiOptions = {},
): Promise<NvidiaSmiRun> {
  const command = options.nvidiaSmiPath ?? "nvidia-smi";
  const commandLine = [command, ...args].join(" ");
  const timeoutMs = options.timeoutMs ?? NVIDIA_SMI_TIMEOUT_MS;
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { env: options.env ?? process.env, timeout: timeoutMs, encoding: "utf8", maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ kind: "ok", commandLine, stdout, stderr });
        if (error.code === "ENOENT") return resolve({ kind: "missing", commandLine });
        const output = [stderr.trim(), stdout.trim()]
          .filter((s) => s !== "")
          .join("\n")
          .slice(0, 2_000);
        if (error.code === NVIDIA_SMI_EXIT_NO_DEVICES && /no devices were found/i.test(output)) {
          return resolve({ kind: "no-devices", commandLine, output });
        }
        const how = error.killed
          ? `timed out after ${timeoutMs} ms`
          : typeof error.code === "number"
            ? `exited with code ${error.code}`
            : `failed (${error.signal ?? error.code ?? error.message})`;
        resolve({
          kind: "failed",
          commandLine,
          error: new ResourceDetectionError(
            `\`${commandLine}\` ${how}${output === "" ? "" : `: ${output}`}`,
            { command: commandLine, exitCode: error.code, signal: error.signal, stderr, stdout },
            error,
          ),
        });
      },
    );
  });
}
