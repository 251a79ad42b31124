/** After SIGTERM, how long a job may clean up before its processes get SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 5_000;

/** After the job's main process exits, how long to wait for its output pipes to drain. */
export const STDIO_DRAIN_MS = 2_000;

/** Variables a job inherits from the daemon; everything else is cleared (keys, tokens, config). */
export const INHERITED_ENV = ["PATH", "HOME", "LANG"] as const;
