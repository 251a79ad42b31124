/** After SIGTERM, how long a job may clean up before its processes get SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 5_000;

/** After the job's main process exits, how long to wait for its output pipes to drain. */
export const STDIO_DRAIN_MS = 2_000;

/**
 * A bubblewrap run that needs what the job sandbox needs (user namespace, network and pid
 * namespaces, new session, /dev and /proc): if this works, sandboxed jobs can start.
 */
export const BWRAP_PROBE_ARGS = [
  "--ro-bind",
  "/",
  "/",
  "--dev",
  "/dev",
  "--proc",
  "/proc",
  "--unshare-net",
  "--unshare-pid",
  "--die-with-parent",
  "--new-session",
  "true",
] as const;

export const BWRAP_PROBE_TIMEOUT_MS = 5_000;

/** Variables a job inherits from the daemon; everything else is cleared (keys, tokens, config). */
export const INHERITED_ENV = ["PATH", "HOME", "LANG"] as const;

/** Device nodes that make NVIDIA GPUs usable, exposed in the sandbox only to GPU jobs. */
export const NVIDIA_DEVICE_PATTERN = /^nvidia/;
