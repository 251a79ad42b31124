import { type ChildProcess, type StdioOptions, spawn } from "node:child_process";
import {
  chmodSync,
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
} from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { processTag } from "../../../marketplace/process/processTag.ts";
import { listProcessTree } from "../../meter/listProcessTree.ts";
import { procConstants } from "../../meter/procConstants.ts";
import { chownTree } from "../chownTree.ts";
import { DEFAULT_KILL_GRACE_MS } from "../constants.ts";
import { createDiskWatchdog, type DiskWatchdog } from "../createDiskWatchdog.ts";
import { RunError } from "../errors.ts";
import { jobEnv } from "../jobEnv.ts";
import type { JobHandle, JobRuntime, ResourceSample, RuntimeStatus, StartJobOptions } from "../runtime.ts";
import type { SandboxMode } from "../types.ts";
import { bwrapArgs } from "./bwrapArgs.ts";
import { cgroupProcesses } from "./cgroupProcesses.ts";
import { cleanupJobCgroups } from "./cleanupJobCgroups.ts";
import {
  DEFAULT_CGROUP_ROOT,
  DEFAULT_JOB_GID,
  DEFAULT_JOB_UID,
  DISK_POLL_MS,
  O_CLOEXEC,
  RLIMIT_AS_HEADROOM_BYTES,
  SANDBOX_PIDS_OVERHEAD,
  STAGING_ROOT,
  WRAPPER_ENV,
} from "./constants.ts";
import { createJobCgroup } from "./createJobCgroup.ts";
import { findExecutable } from "./findExecutable.ts";
import { gpuSandboxDevices } from "./gpuSandboxDevices.ts";
import { jobCommandLine } from "./jobCommandLine.ts";
import { openCgroupParent } from "./openCgroupParent.ts";
import { probeBwrap } from "./probeBwrap.ts";
import { readHostLayout } from "./readHostLayout.ts";
import { readPssKiB } from "./readPssKiB.ts";
import { sandboxIdentityFiles } from "./sandboxIdentityFiles.ts";
import { sandboxKeepFiles } from "./sandboxKeepFiles.ts";
import { type JobProcesses, type LimitHit, superviseJob } from "./superviseJob.ts";
import { type TreeProcesses, treeProcesses } from "./treeProcesses.ts";
import type { CgroupParent, JobCgroup } from "./types.ts";

/** Options for {@link createProcessRuntime}. */
export interface ProcessRuntimeInit {
  /**
   * `auto` and `bwrap` both need a working bubblewrap (the runtime refuses to be created without
   * one); only `none` runs jobs unsandboxed, with a warning.
   */
  sandbox: SandboxMode;
  /** The host uid and gid jobs run as when the daemon is root (else the daemon's own). Default 65534 (nobody). */
  uid?: number;
  gid?: number;
  /** bubblewrap command. Default `bwrap` on the daemon's PATH. */
  bwrapCommand?: string;
  /**
   * Where the cgroup hierarchy is mounted (`/sys/fs/cgroup`); a folder with none makes the runtime
   * fall back to rlimits.
   */
  cgroupRoot?: string;
  /** Environment the job's PATH and LANG come from (its HOME is its work dir). Default `process.env`. */
  parentEnv?: NodeJS.ProcessEnv;
  /** Told when jobs run unsandboxed or with rlimits only. Default: a line on stderr. */
  onWarning?: (message: string) => void;
}

/** File descriptors of a sandboxed job's start: bwrap's options and its /etc files. */
const FD = { args: 3, passwd: 4, group: 5, hosts: 6 } as const;

/**
 * The `process` runtime: jobs run as host processes, inside bubblewrap (user namespace with an
 * unprivileged uid, no network, a minimal read-only filesystem, see bwrapArgs) unless the operator
 * chose `sandbox: "none"`, each in its own cgroup (v1 or v2) that carries its CPU, memory and
 * process limits and holds everything it starts, or under rlimits where no cgroup can be made (a
 * non-root daemon). The work dir is watched against the disk quota.
 *
 * Created once at node start, it fails closed: no working bubblewrap means no runtime unless the
 * sandbox is explicitly `none`.
 * @throws RunError with the way to fix it when bubblewrap (or util-linux) is needed but missing.
 */
export async function createProcessRuntime(init: ProcessRuntimeInit): Promise<JobRuntime> {
  const mode = init.sandbox;
  if (mode !== "auto" && mode !== "bwrap" && mode !== "none") {
    throw new RunError(`unknown sandbox mode ${JSON.stringify(mode)}`, { sandbox: mode });
  }
  const uid = init.uid ?? DEFAULT_JOB_UID;
  const gid = init.gid ?? DEFAULT_JOB_GID;
  for (const [name, id] of [
    ["uid", uid],
    ["gid", gid],
  ] as const) {
    if (!Number.isSafeInteger(id) || id <= 0 || id >= 2 ** 32 - 1) {
      throw new RunError(`the job ${name} must be an unprivileged id (not 0), got ${String(id)}`, {
        [name]: id,
      });
    }
  }
  const warn = init.onWarning ?? ((message: string) => console.warn(`gridspot:node:run ${message}`));
  const asRoot = process.getuid?.() === 0;
  const hostUid = asRoot ? uid : (process.getuid?.() ?? uid);

  const prlimit = findExecutable("prlimit", process.env.PATH);
  const setpriv = asRoot ? findExecutable("setpriv", process.env.PATH) : undefined;
  const envCommand = findExecutable("env", process.env.PATH);
  const staging =
    asRoot && mode !== "none"
      ? {
          unshare: findExecutable("unshare", process.env.PATH),
          mount: findExecutable("mount", process.env.PATH),
        }
      : undefined;
  if (
    prlimit === undefined ||
    envCommand === undefined ||
    (asRoot && setpriv === undefined) ||
    (staging !== undefined && (staging.unshare === undefined || staging.mount === undefined))
  ) {
    throw new RunError(
      "the process runtime needs prlimit, setpriv, unshare and mount (util-linux) and env (coreutils) " +
        "on the daemon's PATH: install them (apt-get install util-linux mount coreutils)",
    );
  }

  let bwrap: { path: string; version: string } | undefined;
  if (mode === "none") {
    warn('sandbox "none": jobs run without a sandbox, with the host\'s network and filesystem');
  } else {
    const probe = await probeBwrap(init.bwrapCommand, { uid, gid });
    if (!probe.available) {
      throw new RunError(
        `sandbox "${mode}" needs a working bubblewrap, and it does not work here (${probe.reason}). ` +
          "Install bubblewrap 0.8 or later (apt-get install bubblewrap), enable unprivileged user namespaces " +
          "(sysctl kernel.unprivileged_userns_clone=1, or user.max_user_namespaces > 0), " +
          'or set runtime.sandbox: "none" to run jobs unsandboxed.',
        { sandbox: mode, reason: probe.reason },
      );
    }
    bwrap = { path: probe.path, version: probe.version };
  }

  const opened = openCgroupParent(init.cgroupRoot ?? DEFAULT_CGROUP_ROOT);
  const parent: CgroupParent | undefined = "parent" in opened ? opened.parent : undefined;
  if (!("parent" in opened)) {
    warn(`no cgroup for jobs (${opened.reason}): limits are rlimits, and memory and processes are watched`);
  }
  const layout = readHostLayout();
  const ownTag = processTag() ?? `${process.pid}-0`;
  const parentEnv = init.parentEnv ?? process.env;
  const tools = {
    prlimit,
    envCommand,
    ...(setpriv === undefined ? {} : { setpriv }),
    ...(staging?.unshare === undefined || staging.mount === undefined
      ? {}
      : { stage: { unshare: staging.unshare, mount: staging.mount } }),
  };
  if (tools.stage !== undefined) makeStagingRoot();

  const status: RuntimeStatus = {
    kind: "process",
    description: bwrap === undefined ? "no sandbox" : `bwrap ${bwrap.version}`,
    limits: parent === undefined ? "rlimits" : `cgroup-v${parent.version}`,
    gpus: { usable: true },
  };

  return {
    kind: "process",
    workDirInJob: (workDir) => (bwrap === undefined ? "." : workDir),
    status: () => ({ ...status, gpus: { ...status.gpus } }),
    cleanupOrphans: async () => {
      if (tools.stage !== undefined) removeStaleStaging();
      return parent === undefined ? 0 : cleanupJobCgroups(parent);
    },
    start: (options) =>
      startJob(options, { bwrap, parent, layout, ownTag, parentEnv, uid, gid, asRoot, hostUid, tools }),
  };
}

interface RuntimeContext {
  bwrap: { path: string; version: string } | undefined;
  parent: CgroupParent | undefined;
  layout: ReturnType<typeof readHostLayout>;
  ownTag: string;
  parentEnv: NodeJS.ProcessEnv;
  uid: number;
  gid: number;
  asRoot: boolean;
  hostUid: number;
  tools: {
    prlimit: string;
    envCommand: string;
    setpriv?: string;
    /** Root daemon, sandboxed jobs: the work dir reaches bubblewrap through a staging mount. */
    stage?: { unshare: string; mount: string };
  };
}

async function startJob(options: StartJobOptions, context: RuntimeContext): Promise<JobHandle> {
  checkOptions(options);
  const { limits } = options;
  const gpus = options.gpus.indices;
  const sandboxed = context.bwrap !== undefined;
  const workDir = await realpath(options.workDir).catch(() => options.workDir);
  const info = await stat(workDir).catch(() => undefined);
  if (info?.isDirectory() !== true) {
    throw new RunError(`work dir ${options.workDir} is not an existing folder`, { workDir: options.workDir });
  }
  const env = jobEnv(
    { PATH: context.parentEnv.PATH, LANG: context.parentEnv.LANG, HOME: workDir },
    options.env,
    gpus,
  );
  if (!sandboxed && options.command.includes("=")) {
    throw new RunError(
      `an unsandboxed job's command may not contain "=": ${JSON.stringify(options.command)}`,
    );
  }
  checkCommand(options.command, workDir, env.PATH);
  const devices = sandboxed ? gpuSandboxDevices(gpus) : { devices: [], hiddenProcDirs: [] };
  // Only the assigned GPUs exist in the sandbox, and CUDA numbers the ones it sees from 0 (in PCI
  // order, with CUDA_DEVICE_ORDER=PCI_BUS_ID): the job's CUDA_VISIBLE_DEVICES names them so.
  if (sandboxed) env.CUDA_VISIBLE_DEVICES = gpus.map((_, i) => i).join(",");
  if (context.asRoot) await chownTree(workDir, context.uid, context.gid);

  const overhead = sandboxed ? SANDBOX_PIDS_OVERHEAD : 0;
  const name = `${context.ownTag}.${options.jobId.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 128)}`;
  const cgroup =
    context.parent === undefined
      ? undefined
      : createJobCgroup(context.parent, {
          name,
          limits,
          pidsOverhead: overhead,
        });
  // One byte over the quota, so that a file stopped by it shows as past the quota in the work dir.
  const fsizeBytes = limits.diskBytes + 1;
  const rlimits =
    cgroup === undefined
      ? {
          fsizeBytes,
          nproc: limits.pids + overhead + tasksOfUid(context.hostUid),
          ...(gpus.length > 0 ? {} : { asBytes: limits.memMiB * 1024 * 1024 + RLIMIT_AS_HEADROOM_BYTES }),
        }
      : { fsizeBytes };

  const stageDir = sandboxed && context.tools.stage !== undefined ? join(STAGING_ROOT, name) : undefined;
  let devNull: number | undefined;
  let child: ChildProcess;
  try {
    const line = jobCommandLine({
      cgroupProcsFiles: cgroup?.procsFiles ?? [],
      prlimit: context.tools.prlimit,
      rlimits,
      ...(context.tools.setpriv === undefined
        ? {}
        : { setpriv: { path: context.tools.setpriv, uid: context.uid, gid: context.gid } }),
      ...(stageDir === undefined || context.tools.stage === undefined
        ? {}
        : { stage: { ...context.tools.stage, source: workDir, target: stageDir } }),
      launcher:
        context.bwrap === undefined
          ? { kind: "env", env: context.tools.envCommand, vars: env }
          : { kind: "bwrap", bwrap: context.bwrap.path, argsFd: FD.args },
      command: options.command,
      args: options.args,
    });
    if (stageDir !== undefined) mkdirSync(stageDir, { mode: 0o700 });
    devNull = openSync("/dev/null", "r");
    child = spawn(line.file, line.args, {
      cwd: workDir,
      env: { ...WRAPPER_ENV },
      detached: true,
      stdio: childStdio(sandboxed, devNull),
    });
    await started(child, options.command);
  } catch (error) {
    await cgroup?.remove();
    removeStageDir(stageDir);
    throw error instanceof RunError
      ? error
      : new RunError(
          `cannot start ${JSON.stringify(options.command)}: ${(error as Error).message}`,
          {},
          error,
        );
  } finally {
    if (devNull !== undefined) closeSync(devNull);
  }
  const startedAt = Date.now();
  const rootPid = child.pid as number;

  if (context.bwrap !== undefined) {
    const identity = sandboxIdentityFiles({ uid: context.uid, gid: context.gid, home: workDir });
    const args = bwrapArgs({
      layout: context.layout,
      uid: context.uid,
      gid: context.gid,
      workDir,
      workDirSource: stageDir ?? workDir,
      dataFiles: [
        { fd: FD.passwd, path: "/etc/passwd" },
        { fd: FD.group, path: "/etc/group" },
        { fd: FD.hosts, path: "/etc/hosts" },
      ],
      devices: devices.devices,
      hiddenProcDirs: devices.hiddenProcDirs,
      keepFiles: sandboxKeepFiles(context.layout, [process.execPath, options.command], {
        worldReachable: context.asRoot,
      }),
      tmpBytes: Math.min(limits.diskBytes, limits.memMiB * 1024 * 1024),
      env,
    });
    const stdio: readonly unknown[] = child.stdio;
    feed(stdio[FD.args], `${args.join("\0")}\0`);
    feed(stdio[FD.passwd], identity.passwd);
    feed(stdio[FD.group], identity.group);
    feed(stdio[FD.hosts], identity.hosts);
  }
  child.stdout?.on("data", (chunk: Buffer) => options.onStdout?.(chunk));
  child.stderr?.on("data", (chunk: Buffer) => options.onStderr?.(chunk));

  let tree: TreeProcesses | undefined;
  let processes: JobProcesses;
  if (cgroup === undefined) {
    tree = treeProcesses({ rootPid, sandboxed });
    processes = tree;
  } else processes = cgroupProcesses(cgroup, { rootPid, sandboxed });
  let last: ResourceSample = { cpuMs: 0n, memKiB: 0n, pids: 0, hostPids: [] };
  const read = (): ResourceSample => {
    const reading = cgroup === undefined ? readTree(rootPid, tree) : cgroup.usage();
    if (reading === undefined) return last;
    // pids.current may still count a process being reaped.
    if (reading.hostPids.length === 0) reading.pids = 0;
    // CPU time is cumulative: a tree reading drops when a process leaves the tree.
    last = reading.cpuMs < last.cpuMs ? { ...reading, cpuMs: last.cpuMs } : reading;
    return last;
  };

  const memLimit = `its memory limit of ${limits.memMiB} MiB`;
  const pidsLimit = `its limit of ${limits.pids} processes and threads`;
  const checkLimits = async (): Promise<LimitHit | undefined> => {
    if (cgroup !== undefined) return cgroupHit(cgroup, undefined);
    const now = read();
    if (now.memKiB > BigInt(limits.memMiB) * 1024n)
      return { reason: "oom", detail: `used more than ${memLimit}` };
    if (now.pids >= limits.pids + overhead) return { reason: "pids", detail: `reached ${pidsLimit}` };
    return undefined;
  };
  const cgroupHit = (
    group: JobCgroup,
    ended: { exitCode: number | null; signal: NodeJS.Signals | null } | undefined,
  ) => {
    const hits = group.limitHits();
    const killed = ended !== undefined && (ended.signal === "SIGKILL" || ended.exitCode === 137);
    if (hits.oomKills > 0 || (hits.oomKillsUnknown && hits.memFailcnt > 0 && killed)) {
      return { reason: "oom", detail: `used more than ${memLimit}: the kernel killed it` } as const;
    }
    if (hits.pidsMax > 0) return { reason: "pids", detail: `tried to run more than ${pidsLimit}` } as const;
    return undefined;
  };

  let supervised: ReturnType<typeof superviseJob> | undefined;
  const disk: DiskWatchdog = createDiskWatchdog({
    workDir,
    maxBytes: limits.diskBytes,
    intervalMs: DISK_POLL_MS,
    onExceeded: (used) => supervised?.stopForLimit(diskHit(used, limits.diskBytes)),
  });
  supervised = superviseJob(
    { child, processes },
    {
      startedAt,
      maxDurationMs: limits.maxDurationMs,
      killGraceMs: options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
      ...(limits.maxSuspendedMs === undefined ? {} : { maxSuspendedMs: limits.maxSuspendedMs }),
      checkLimits,
      finalCheck: async (ended) => {
        const used = await disk.stop();
        const hit = cgroup === undefined ? undefined : cgroupHit(cgroup, ended);
        if (hit !== undefined) return hit;
        if (used > limits.diskBytes) return diskHit(used, limits.diskBytes);
        if (ended.signal === "SIGXFSZ") {
          return {
            reason: "disk-quota",
            detail: `wrote a file larger than its disk quota of ${limits.diskBytes} bytes`,
          };
        }
        return undefined;
      },
    },
  );
  const job = supervised;
  // The staging mount went with the job's mount namespace: its empty folder goes too.
  void job.exited.then(() => removeStageDir(stageDir));

  return {
    id: String(rootPid),
    runtime: "process",
    workDir,
    sandbox: sandboxed ? "bwrap" : "none",
    startedAt,
    exited: job.exited,
    get suspended() {
      return job.suspended;
    },
    cancel: (message) => job.cancel(message),
    suspend: () => job.suspend(),
    resume: () => job.resume(),
    sample: async () => {
      try {
        return read();
      } catch {
        return last;
      }
    },
    remove: async () => {
      await processes.killAll().catch(() => {});
      removeStageDir(stageDir);
      await disk.stop().catch(() => 0);
      if (cgroup !== undefined) {
        read();
        await cgroup.remove();
      }
    },
  };
}

/** Makes {@link STAGING_ROOT}: root's, mode 0711 (reachable, not listable), never a symlink. */
function makeStagingRoot(): void {
  mkdirSync(STAGING_ROOT, { recursive: true, mode: 0o711 });
  const info = lstatSync(STAGING_ROOT);
  if (!info.isDirectory() || info.uid !== 0) {
    throw new RunError(`${STAGING_ROOT} must be a folder owned by root`, { path: STAGING_ROOT });
  }
  chmodSync(STAGING_ROOT, 0o711);
}

/** Removes the empty staging folders that daemons no longer running left behind. */
function removeStaleStaging(): void {
  let names: string[] = [];
  try {
    names = readdirSync(STAGING_ROOT);
  } catch {}
  for (const entry of names) {
    const match = /^(\d+)-(\d+)\./.exec(entry);
    if (match === null || processTag(Number(match[1])) === `${match[1]}-${match[2]}`) continue;
    removeStageDir(join(STAGING_ROOT, entry));
  }
}

function removeStageDir(dir: string | undefined): void {
  if (dir === undefined) return;
  try {
    rmdirSync(dir);
  } catch {
    // Gone already; a mount still on it (in the job's namespace) goes with the job.
  }
}

function diskHit(used: number, quota: number): LimitHit {
  return {
    reason: "disk-quota",
    detail: `held ${used} bytes in its work dir, past its disk quota of ${quota} bytes`,
  };
}

function checkOptions(options: StartJobOptions): void {
  if (options.image !== undefined) {
    throw new RunError("the process runtime cannot run images", { image: options.image });
  }
  if (typeof options.jobId !== "string" || options.jobId === "") throw new RunError("empty job id");
  if (typeof options.command !== "string" || options.command === "") throw new RunError("empty command");
  const { limits } = options;
  const positive = (name: string, value: unknown, integer: boolean) => {
    if (
      typeof value !== "number" ||
      !Number.isFinite(value) ||
      value <= 0 ||
      (integer && !Number.isSafeInteger(value))
    ) {
      throw new RunError(
        `limits.${name} must be a positive ${integer ? "integer" : "number"}, got ${String(value)}`,
        {
          [name]: value,
        },
      );
    }
  };
  positive("cpuCores", limits.cpuCores, false);
  positive("memMiB", limits.memMiB, true);
  positive("pids", limits.pids, true);
  positive("diskBytes", limits.diskBytes, true);
  for (const [name, value] of [
    ["limits.maxDurationMs", limits.maxDurationMs],
    ["limits.maxSuspendedMs", limits.maxSuspendedMs],
    ["killGraceMs", options.killGraceMs],
  ] as const) {
    if (value === undefined && name !== "limits.maxDurationMs") continue;
    if (!Number.isSafeInteger(value) || (value as number) < 0) {
      throw new RunError(`${name} must be a non-negative integer of ms, got ${String(value)}`, {
        [name]: value,
      });
    }
  }
  const gpus = options.gpus.indices;
  if (gpus.some((g) => !Number.isSafeInteger(g) || g < 0) || new Set(gpus).size !== gpus.length) {
    throw new RunError(`gpus.indices must be distinct non-negative integers, got [${gpus.join(", ")}]`, {
      gpus,
    });
  }
}

/** Fails early, with the usual ENOENT wording, for a command that exists nowhere on the host. */
function checkCommand(command: string, workDir: string, pathEnv: string | undefined): void {
  const path = command.includes("/")
    ? command.startsWith("/")
      ? command
      : `${workDir}/${command}`
    : findExecutable(command, pathEnv);
  let found = false;
  try {
    found = path !== undefined && statSync(path).isFile();
  } catch {}
  if (!found) throw new RunError(`cannot start ${JSON.stringify(command)}: ENOENT`, { command });
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
 * The child's descriptors: stdin /dev/null, stdout and stderr piped, and for a sandboxed job
 * bubblewrap's options and /etc files (pipes, see {@link FD}). A descriptor the
 * daemon holds without close-on-exec (inherited from what started it, e.g. a socket-activated
 * listener) would pass to the job: it is covered with /dev/null.
 */
function childStdio(sandboxed: boolean, devNull: number): StdioOptions {
  const stdio: ("pipe" | "ignore" | number)[] = sandboxed
    ? ["ignore", "pipe", "pipe", "pipe", "pipe", "pipe", "pipe"]
    : ["ignore", "pipe", "pipe"];
  for (const fd of inheritableFds()) {
    if (fd < stdio.length) continue;
    while (stdio.length < fd) stdio.push("ignore");
    stdio.push(devNull);
  }
  return stdio;
}

/** The daemon's open descriptors above stderr without close-on-exec, ascending. */
function inheritableFds(): number[] {
  const fds: number[] = [];
  try {
    for (const name of readdirSync("/proc/self/fdinfo")) {
      const fd = Number(name);
      if (!Number.isSafeInteger(fd) || fd <= 2) continue;
      try {
        const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1];
        if (flags !== undefined && (Number.parseInt(flags, 8) & O_CLOEXEC) === 0) fds.push(fd);
      } catch {}
    }
  } catch {}
  return fds.sort((a, b) => a - b);
}

function feed(stream: unknown, data: string): void {
  const pipe = stream as Writable | null | undefined;
  if (pipe === null || pipe === undefined) return;
  // bubblewrap closes what it read; a job that dies first leaves the pipe broken: not an error here.
  pipe.on("error", () => {});
  pipe.end(data);
}

/** Usage of the job's process tree, without a cgroup: CPU of live processes, Σ PSS, threads. */
function readTree(
  rootPid: number,
  tree: { track(pids: readonly number[]): void } | undefined,
): ResourceSample | undefined {
  const processes = listProcessTree(rootPid);
  if (processes.length === 0) return undefined;
  const { clockTicks } = procConstants();
  const pids = processes.map((p) => p.pid);
  tree?.track(pids);
  let ticks = 0n;
  let threads = 0;
  for (const p of processes) {
    ticks += p.utime + p.stime + p.cutime + p.cstime;
    try {
      threads += readdirSync(`/proc/${p.pid}/task`).length;
    } catch {}
  }
  return { cpuMs: (ticks * 1000n) / clockTicks, memKiB: readPssKiB(pids), pids: threads, hostPids: pids };
}

/** Threads the uid runs now: RLIMIT_NPROC counts them all, so a job's allowance comes on top. */
function tasksOfUid(uid: number): number {
  let count = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (statSync(`/proc/${name}`).uid !== uid) continue;
      count += readdirSync(`/proc/${name}/task`).length;
    } catch {}
  }
  return count;
}
