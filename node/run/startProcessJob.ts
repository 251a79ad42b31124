import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, realpathSync, statSync } from "node:fs";
import { mkdtemp, realpath, stat } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { bwrapArgs } from "./bwrapArgs.ts";
import { DEFAULT_KILL_GRACE_MS, NVIDIA_DEVICE_PATTERN } from "./constants.ts";
import { RunError } from "./errors.ts";
import { jobEnv } from "./jobEnv.ts";
import { probeBwrap } from "./probeBwrap.ts";
import { superviseJob } from "./superviseJob.ts";
import type { InputFile, ProcessJobHandle, SandboxMode } from "./types.ts";
import { writeInputs } from "./writeInputs.ts";

/** Options for {@link startProcessJob}. */
export interface StartProcessJobOptions {
  command: string;
  args?: readonly string[];
  /** The job's own variables, added to PATH, HOME and LANG from `parentEnv`. */
  env?: Readonly<Record<string, string>>;
  /** nvidia-smi indices of the GPUs assigned to the job; they become CUDA_VISIBLE_DEVICES. Default none. */
  gpuIndices?: readonly number[];
  /** An existing folder to run in (e.g. prepared with writeInputs). Default: a fresh one under `workRoot`. */
  workDir?: string;
  /** Where fresh work dirs are made (mode 0700). Default the OS temp dir. */
  workRoot?: string;
  /** Files written into the work dir before the job starts. */
  inputs?: readonly InputFile[];
  /** Default `auto`. */
  sandbox?: SandboxMode;
  /** Running time after which the job is killed with reason `timeout`. Required. */
  maxDurationMs: number;
  /** Suspended time after which the job is killed with reason `suspended-timeout`. Default unlimited. */
  maxSuspendedMs?: number;
  /** Time between SIGTERM and SIGKILL on cancel or timeout. Default {@link DEFAULT_KILL_GRACE_MS}. */
  killGraceMs?: number;
  /**
   * Folders the sandboxed job must not read, replaced by empty tmpfs (missing ones are skipped).
   * Default: the daemon's home, which holds its data dir, keystore and libp2p key; pass the data
   * dir explicitly when it lives elsewhere. The rest of the host is visible read-only.
   */
  hidePaths?: readonly string[];
  /** bubblewrap command. Default `bwrap` on the daemon's PATH. */
  bwrapCommand?: string;
  /** Environment PATH, HOME and LANG are taken from. Default `process.env`. */
  parentEnv?: NodeJS.ProcessEnv;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Told when a job runs without a sandbox. Default: a line on stderr. */
  onWarning?: (message: string) => void;
}

/**
 * Starts a job's command in its own work dir and process group. Sandboxed with bubblewrap when
 * available (`auto`) or required (`bwrap`): read-only host, private /tmp, no network, own pid
 * namespace, the work dir read-write as cwd, NVIDIA devices only for GPU jobs. Unsandboxed (`none`,
 * or `auto` without a working bwrap) it runs plainly, with a warning: the job then shares the
 * host's network and filesystem.
 *
 * Either way the environment is cleared down to PATH/HOME/LANG plus the job's env, and
 * CUDA_VISIBLE_DEVICES lists the assigned GPUs ("" for none).
 * @throws RunError on bad options, unsafe input paths, a work dir that is not a folder, `bwrap`
 * required but not working, or a command that cannot be started.
 */
export async function startProcessJob(options: StartProcessJobOptions): Promise<ProcessJobHandle> {
  const gpus = checkOptions(options);
  const warn = options.onWarning ?? ((message: string) => console.warn(`gridspot:node:run ${message}`));
  const bwrapPath = await chooseSandbox(options, warn);
  const workDir = await prepareWorkDir(options);
  if (options.inputs !== undefined) await writeInputs(workDir, options.inputs);
  const env = jobEnv(options.parentEnv ?? process.env, options.env ?? {}, gpus);
  const args = options.args ?? [];

  const [file, argv] =
    bwrapPath === undefined
      ? [options.command, [...args]]
      : [
          bwrapPath,
          [
            ...bwrapArgs({
              workDir,
              hidePaths: hiddenPaths(options, workDir),
              devices: gpuDevices(gpus),
              keepPaths: commandToKeep(options.command),
            }),
            "--",
            options.command,
            ...args,
          ],
        ];
  const child = spawn(file, argv, { cwd: workDir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  await started(child, options.command);
  const startedAt = Date.now();
  child.stdout?.on("data", (chunk: Buffer) => options.onStdout?.(chunk));
  child.stderr?.on("data", (chunk: Buffer) => options.onStderr?.(chunk));
  return superviseJob(child, {
    workDir,
    sandbox: bwrapPath === undefined ? "none" : "bwrap",
    maxDurationMs: options.maxDurationMs,
    killGraceMs: options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
    startedAt,
    ...(options.maxSuspendedMs === undefined ? {} : { maxSuspendedMs: options.maxSuspendedMs }),
  });
}

function checkOptions(options: StartProcessJobOptions): readonly number[] {
  if (typeof options.command !== "string" || options.command === "") throw new RunError("empty command");
  for (const key of ["maxDurationMs", "maxSuspendedMs", "killGraceMs"] as const) {
    const value = options[key];
    if (value === undefined && key !== "maxDurationMs") continue;
    if (!Number.isSafeInteger(value) || (value as number) < 0) {
      throw new RunError(`${key} must be a non-negative integer of ms, got ${String(value)}`, {
        [key]: value,
      });
    }
  }
  const gpus = options.gpuIndices ?? [];
  if (gpus.some((g) => !Number.isSafeInteger(g) || g < 0) || new Set(gpus).size !== gpus.length) {
    throw new RunError(`gpuIndices must be distinct non-negative integers, got [${gpus.join(", ")}]`, {
      gpus,
    });
  }
  return gpus;
}

async function chooseSandbox(
  options: StartProcessJobOptions,
  warn: (m: string) => void,
): Promise<string | undefined> {
  const mode = options.sandbox ?? "auto";
  if (mode === "none") {
    warn("sandbox disabled: the job runs with the host's network and filesystem");
    return undefined;
  }
  if (mode !== "auto" && mode !== "bwrap") throw new RunError(`unknown sandbox mode ${JSON.stringify(mode)}`);
  const probe = await probeBwrap(options.bwrapCommand);
  if (probe.available) return probe.path;
  if (mode === "bwrap")
    throw new RunError(`sandbox "bwrap" required but unavailable: ${probe.reason}`, { probe });
  warn(`bubblewrap unavailable (${probe.reason}): the job runs without a sandbox, with network access`);
  return undefined;
}

async function prepareWorkDir(options: StartProcessJobOptions): Promise<string> {
  if (options.workDir === undefined) {
    return realpath(await mkdtemp(join(options.workRoot ?? tmpdir(), "gridspot-job-")));
  }
  const info = await stat(options.workDir).catch(() => undefined);
  if (info?.isDirectory() !== true) {
    throw new RunError(`work dir ${options.workDir} is not an existing folder`, { workDir: options.workDir });
  }
  return realpath(options.workDir);
}

function hiddenPaths(options: StartProcessJobOptions, workDir: string): string[] {
  const paths = options.hidePaths ?? [homedir()];
  // Hiding "/" or the work dir itself would leave the job nothing to run; bubblewrap can only mount a
  // tmpfs over an existing folder (the root is read-only), and a missing one has nothing to hide.
  return paths.filter((p) => p !== "/" && p !== workDir && isFolder(p));
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function gpuDevices(gpus: readonly number[]): string[] {
  if (gpus.length === 0) return [];
  // All NVIDIA nodes: /dev/nvidiaN minor numbers need not match nvidia-smi indices, so device-level
  // selection could hide the wrong GPU; CUDA_VISIBLE_DEVICES (in PCI order) selects instead.
  try {
    return readdirSync("/dev")
      .filter((name) => NVIDIA_DEVICE_PATTERN.test(name))
      .map((name) => `/dev/${name}`);
  } catch {
    return [];
  }
}

function started(child: ChildProcess, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once("spawn", () => resolve());
    child.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        new RunError(
          `cannot start ${JSON.stringify(command)}: ${error.code ?? error.message}`,
          { command },
          error,
        ),
      );
    });
  });
}

/**
 * A command given by path stays runnable inside the sandbox even when it sits under /tmp or a hidden
 * folder (bound back read-only, only that file); so does the node binary running this daemon, which
 * jobs may call by path too (a checkout under /tmp runs its bundled node from /tmp/…). Commands
 * found on PATH are left to the job's PATH.
 */
function commandToKeep(command: string): string[] {
  const keep = new Set<string>([realpathSync(process.execPath)]);
  if (command.includes("/")) {
    try {
      keep.add(realpathSync(resolvePath(command)));
    } catch {
      // A missing command fails at start with the runtime's own error.
    }
  }
  return [...keep];
}
