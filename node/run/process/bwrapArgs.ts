import { SANDBOX_HOSTNAME } from "./constants.ts";
import type { HostEntry, HostLayout } from "./readHostLayout.ts";

/** What the sandbox needs to know to wrap one job. */
export interface BwrapArgsOptions {
  /** The host folders and /etc entries the sandbox shows (see readHostLayout). */
  layout: HostLayout;
  /** The job's uid and gid inside the sandbox (and, when the daemon is root, outside too). */
  uid: number;
  gid: number;
  /** Absolute, symlink-free path of the job's work dir: bound read-write at the same path, the cwd. */
  workDir: string;
  /** Where bubblewrap finds the work dir on the host: itself, or its staging mount (root daemon). */
  workDirSource: string;
  /** Files made from data the daemon writes to an fd: the job user's passwd and group lines, hosts. */
  dataFiles: readonly { fd: number; path: string }[];
  /** Device nodes bound into /dev when present: a GPU job's assigned NVIDIA devices, none otherwise. */
  devices: readonly string[];
  /** Folders under /proc masked with an empty tmpfs (the driver's entries of GPUs not assigned). */
  hiddenProcDirs: readonly string[];
  /**
   * Host files bound back read-only (`source` at `path`): the job's executable, or the daemon's node
   * binary, when they live outside /usr (a checkout under /tmp or /work runs its bundled node).
   */
  keepFiles: readonly { source: string; path: string }[];
  /** Size of the private /tmp and /dev/shm, bytes. */
  tmpBytes: number;
  /** The job's whole environment (the sandbox starts from an empty one). */
  env: Readonly<Record<string, string>>;
}

/**
 * bubblewrap options (everything before `--`, the command follows) for one job. Namespaces: a user
 * namespace with the job uid (no capabilities, no nested user namespaces), and own pid, network,
 * ipc, uts and cgroup namespaces; a new session and death with the daemon. Filesystem: nothing of
 * the host but /usr and its merged symlinks (read-only), a minimal /etc (loader config, CA
 * certificates, time zone, a passwd and group naming the job user), a fresh /proc, a minimal /dev
 * with only the assigned GPUs, size-limited private /tmp and /dev/shm, and the work dir read-write.
 * The root itself is read-only. Mounts apply in order, so folders come before what goes inside them.
 * These options may travel through `--args FD`, which keeps the environment off the command line.
 */
export function bwrapArgs(options: BwrapArgsOptions): string[] {
  const args = ["--unshare-user", "--uid", String(options.uid), "--gid", String(options.gid)];
  args.push("--disable-userns", "--unshare-pid", "--unshare-net", "--unshare-ipc");
  args.push("--unshare-uts", "--hostname", SANDBOX_HOSTNAME, "--unshare-cgroup-try");
  args.push("--die-with-parent", "--new-session", "--cap-drop", "ALL");

  for (const entry of options.layout.rootDirs) args.push(...mirror(entry));
  args.push("--proc", "/proc");
  for (const dir of options.hiddenProcDirs) args.push("--tmpfs", dir);
  args.push("--dev", "/dev");
  for (const device of options.devices) args.push("--dev-bind-try", device, device);
  const size = String(Math.max(1, Math.floor(options.tmpBytes)));
  args.push("--perms", "1777", "--size", size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev");
  args.push("--perms", "1777", "--size", size, "--tmpfs", "/tmp");

  args.push("--perms", "0755", "--dir", "/etc");
  const made = new Set(["/etc"]);
  for (const entry of options.layout.etc) {
    for (const parent of parents(entry.path)) {
      if (made.has(parent)) continue;
      made.add(parent);
      args.push("--perms", "0755", "--dir", parent);
    }
    args.push(...mirror(entry));
  }
  for (const file of options.dataFiles)
    args.push("--perms", "0644", "--ro-bind-data", String(file.fd), file.path);

  for (const file of options.keepFiles) args.push("--ro-bind", file.source, file.path);
  args.push("--bind", options.workDirSource, options.workDir);
  args.push("--remount-ro", "/", "--chdir", options.workDir);

  args.push("--clearenv");
  for (const [name, value] of Object.entries(options.env)) args.push("--setenv", name, value);
  return args;
}

function mirror(entry: HostEntry): string[] {
  return entry.kind === "symlink"
    ? ["--symlink", entry.target, entry.path]
    : ["--ro-bind", entry.path, entry.path];
}

/** `/etc/ssl/certs` → [`/etc`, `/etc/ssl`]. */
function parents(path: string): string[] {
  const parts = path.split("/").filter((p) => p !== "");
  const result: string[] = [];
  for (let i = 1; i < parts.length; i++) result.push(`/${parts.slice(0, i).join("/")}`);
  return result;
}
