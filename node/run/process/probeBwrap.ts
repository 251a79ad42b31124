import { execFile } from "node:child_process";
import { BWRAP_PROBE_TIMEOUT_MS, DEFAULT_JOB_GID, DEFAULT_JOB_UID, WRAPPER_ENV } from "./constants.ts";
import { findExecutable } from "./findExecutable.ts";
import { readHostLayout } from "./readHostLayout.ts";

/** Whether bubblewrap can sandbox jobs here, with which binary and version. */
export type BwrapProbe =
  | { available: true; path: string; version: string }
  | { available: false; reason: string };

/** Options for {@link probeBwrap}. */
export interface ProbeBwrapOptions {
  /** The uid and gid jobs run as when the daemon is root (the probe runs as them too). Default 65534. */
  uid?: number;
  gid?: number;
}

const probes = new Map<string, Promise<BwrapProbe>>();

/**
 * Runs a sandbox like a job's (user namespace with an unprivileged uid, pid/net/ipc/uts namespaces,
 * minimal read-only filesystem, a new session, all capabilities dropped) once per bwrap command and
 * uid, and caches the answer for the process lifetime (kernels rarely gain or lose user namespaces
 * while a daemon runs). When the daemon is root the probe runs as the job uid through `setpriv`,
 * like jobs do. Never rejects.
 */
export function probeBwrap(bwrapCommand = "bwrap", options: ProbeBwrapOptions = {}): Promise<BwrapProbe> {
  const uid = options.uid ?? DEFAULT_JOB_UID;
  const gid = options.gid ?? DEFAULT_JOB_GID;
  const key = `${bwrapCommand}\0${uid}:${gid}`;
  let probe = probes.get(key);
  if (probe === undefined) {
    probe = runProbe(bwrapCommand, uid, gid);
    probes.set(key, probe);
  }
  return probe;
}

async function runProbe(bwrapCommand: string, uid: number, gid: number): Promise<BwrapProbe> {
  const path = findExecutable(bwrapCommand, process.env.PATH);
  if (path === undefined) return { available: false, reason: `${bwrapCommand} not found on PATH` };
  const version = await run(path, ["--version"]);
  if (version.error !== undefined)
    return { available: false, reason: `${path} --version failed: ${version.error}` };
  const sandboxArgs = [...probeArgs(uid, gid), "--", "true"];
  let file = path;
  let args = sandboxArgs;
  if (process.getuid?.() === 0) {
    const setpriv = findExecutable("setpriv", process.env.PATH);
    if (setpriv === undefined) return { available: false, reason: "setpriv (util-linux) not found on PATH" };
    file = setpriv;
    args = [`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", path, ...sandboxArgs];
  }
  const sandbox = await run(file, args);
  if (sandbox.error !== undefined) {
    return { available: false, reason: `${[file, ...args].join(" ")} failed: ${sandbox.error}` };
  }
  return { available: true, path, version: parseVersion(version.stdout) };
}

function probeArgs(uid: number, gid: number): string[] {
  const args = ["--unshare-user", "--uid", String(uid), "--gid", String(gid), "--disable-userns"];
  args.push("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try");
  args.push("--die-with-parent", "--new-session", "--cap-drop", "ALL");
  for (const entry of readHostLayout().rootDirs) {
    if (entry.kind === "symlink") args.push("--symlink", entry.target, entry.path);
    else args.push("--ro-bind", entry.path, entry.path);
  }
  args.push("--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--remount-ro", "/");
  args.push("--clearenv", "--setenv", "PATH", WRAPPER_ENV.PATH);
  return args;
}

function parseVersion(text: string): string {
  return /(\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1] ?? (text.trim() || "unknown");
}

function run(file: string, args: readonly string[]): Promise<{ stdout: string; error?: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: BWRAP_PROBE_TIMEOUT_MS, env: { ...WRAPPER_ENV } },
      (error, stdout, stderr) => {
        if (error === null) resolve({ stdout });
        else resolve({ stdout, error: stderr.trim() || error.message });
      },
    );
  });
}
