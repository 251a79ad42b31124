/** What the sandbox needs to know to wrap one job. */
export interface BwrapArgsOptions {
  /** Absolute, symlink-free path of the job's work dir: bound read-write and made the cwd. */
  workDir: string;
  /** Directories replaced by empty private tmpfs (e.g. the daemon's home with its keys). */
  hidePaths: readonly string[];
  /** Device nodes bound into /dev (the NVIDIA ones for a GPU job; none otherwise). */
  devices: readonly string[];
  /**
   * Files bound back read-only over the private /tmp and the hidden folders: the job's own
   * executable when it lives there (a checkout under /tmp runs its bundled node from /tmp/…).
   */
  keepPaths?: readonly string[];
}

/**
 * bubblewrap arguments (before `--`, the command follows) for a job: the host root read-only, a
 * minimal /dev, a fresh /proc, a private /tmp, hidden paths, the work dir read-write as cwd; no
 * network, own pid/ipc/uts namespaces, a new session (no terminal injection) and death with the
 * daemon. Mounts apply in order, so tmpfs layers come before the work dir they may contain.
 */
export function bwrapArgs(options: BwrapArgsOptions): string[] {
  const args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"];
  for (const path of options.hidePaths) args.push("--tmpfs", path);
  for (const path of options.keepPaths ?? []) args.push("--ro-bind", path, path);
  for (const device of options.devices) args.push("--dev-bind", device, device);
  args.push("--bind", options.workDir, options.workDir, "--chdir", options.workDir);
  args.push("--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts");
  args.push("--die-with-parent", "--new-session");
  return args;
}
