import { CGROUP_ENTRY_FAILED_EXIT } from "./constants.ts";

/** The resource limits set on a job's first process with `prlimit` (soft and hard alike). */
export interface JobRlimits {
  /** RLIMIT_FSIZE: the largest file the job may write, bytes. */
  fsizeBytes: number;
  /** RLIMIT_AS: address space, bytes (only without a memory cgroup). */
  asBytes?: number;
  /** RLIMIT_NPROC: processes of the job's uid (only without a pids cgroup; it counts per uid). */
  nproc?: number;
}

/** How the job's process is finally run: inside bubblewrap, or plainly with `env -i`. */
export type JobLauncher =
  | { kind: "bwrap"; bwrap: string; argsFd: number }
  | { kind: "env"; env: string; vars: Readonly<Record<string, string>> };

/** Options for {@link jobCommandLine}. */
export interface JobCommandLineOptions {
  /**
   * cgroup.procs files (one per hierarchy) the starting process writes its own pid into before it
   * runs anything else; empty without cgroups.
   */
  cgroupProcsFiles: readonly string[];
  /**
   * Bind-mount `source` on `target` in a private mount namespace before anything else (util-linux
   * `unshare` and `mount`): how a root daemon shows bubblewrap a work dir the job uid cannot reach.
   */
  stage?: { unshare: string; mount: string; source: string; target: string };
  /** Absolute path of util-linux `prlimit`. */
  prlimit: string;
  rlimits: JobRlimits;
  /** Switch to this uid/gid (no supplementary groups, no new privileges): only when the daemon is root. */
  setpriv?: { path: string; uid: number; gid: number };
  launcher: JobLauncher;
  command: string;
  args: readonly string[];
}

/**
 * Enters the cgroups listed in "$2…" ("$1" of them), then execs the rest of its arguments. The pid
 * written is the shell's own, which the exec keeps: nothing of the job runs outside its cgroups.
 */
const WRAPPER_SCRIPT = [
  'n="$1"; shift',
  'while [ "$n" -gt 0 ]; do',
  `  echo "$$" > "$1" || { echo "gridspot: cannot enter cgroup $1" >&2; exit ${CGROUP_ENTRY_FAILED_EXIT}; }`,
  "  shift; n=$((n - 1))",
  "done",
  'exec "$@"',
].join("\n");

/** Runs `$1 --bind -- $2 $3` (mount, in the private mount namespace it runs in), then execs the rest. */
const STAGE_SCRIPT = [
  `"$1" --bind -- "$2" "$3" || { echo "gridspot: cannot stage the work dir" >&2; exit ${CGROUP_ENTRY_FAILED_EXIT}; }`,
  'shift 3; exec "$@"',
].join("\n");

/**
 * The command line that starts a job: a tiny shell that puts itself into the job's cgroups, then
 * (each stage exec'ing the next, so the first pid is the job's root) the work dir's staging mount in
 * a private mount namespace where asked, `prlimit` with the job's
 * rlimits, `setpriv` to the job uid when the daemon is root, and either bubblewrap (its options come
 * through `--args FD`, keeping the job's environment off the command line) or `env -i` with the
 * job's environment. Every stage before the job's own command runs with the daemon's minimal
 * wrapper environment, so the job's variables (LD_PRELOAD…) never reach a privileged process.
 */
export function jobCommandLine(options: JobCommandLineOptions): { file: string; args: string[] } {
  const limits = [`--fsize=${limit(options.rlimits.fsizeBytes)}`, "--core=0:0"];
  if (options.rlimits.asBytes !== undefined) limits.push(`--as=${limit(options.rlimits.asBytes)}`);
  if (options.rlimits.nproc !== undefined) limits.push(`--nproc=${limit(options.rlimits.nproc)}`);
  const chain = [options.prlimit, ...limits, "--"];
  if (options.setpriv !== undefined) {
    const { path, uid, gid } = options.setpriv;
    chain.push(path, `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--no-new-privs", "--");
  }
  const { launcher } = options;
  if (launcher.kind === "bwrap") chain.push(launcher.bwrap, "--args", String(launcher.argsFd), "--");
  else {
    chain.push(launcher.env, "-i", "--");
    for (const [name, value] of Object.entries(launcher.vars)) chain.push(`${name}=${value}`);
  }
  chain.push(options.command, ...options.args);
  if (options.stage !== undefined) {
    const { unshare, mount, source, target } = options.stage;
    chain.unshift(
      unshare,
      "--mount",
      "--propagation",
      "private",
      "--",
      "/bin/sh",
      "-c",
      STAGE_SCRIPT,
      "gridspot-stage",
      mount,
      source,
      target,
    );
  }
  const cgroups = options.cgroupProcsFiles;
  if (cgroups.length === 0) return { file: chain[0] as string, args: chain.slice(1) };
  return {
    file: "/bin/sh",
    args: ["-c", WRAPPER_SCRIPT, "gridspot-job", String(cgroups.length), ...cgroups, ...chain],
  };
}

function limit(value: number): string {
  const n = Math.max(0, Math.floor(value));
  return `${n}:${n}`;
}
