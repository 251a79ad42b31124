/**
 * `auto` and `bwrap`: bubblewrap, required (the process runtime refuses to be created without a
 * working one); `none`: never, jobs run unsandboxed (with a warning), only when the operator says so.
 */
export type SandboxMode = "auto" | "bwrap" | "none";

/**
 * Why a job ended: on its own, past its max duration, cancelled, suspended for too long, or stopped
 * by a limit it hit (memory: `oom`, processes: `pids`, work dir size: `disk-quota`).
 */
export type ExitReason =
  | "exit"
  | "timeout"
  | "cancelled"
  | "suspended-timeout"
  | "oom"
  | "pids"
  | "disk-quota";

/** How a job ended. Times are epoch ms. */
export interface JobExit {
  /** Why the runtime ended it, in words (the cancel message, the limit passed); absent for "exit". */
  detail?: string;
  /** The exit code of the started process (bwrap passes the job's through); null if killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  reason: ExitReason;
  startedAt: number;
  endedAt: number;
}

/** A file to place in the work dir before the job starts. */
export interface InputFile {
  /** Relative to the work dir; no absolute paths, no `..` segments. */
  path: string;
  content: Uint8Array;
  /** Give it mode 0755 instead of 0644. */
  executable?: boolean;
}

/** A running job. */
export interface ProcessJobHandle {
  /** The started process (bubblewrap when sandboxed): the root of the job's process tree for metering. */
  readonly pid: number;
  readonly workDir: string;
  /** Whether the job runs inside bubblewrap. */
  readonly sandbox: "bwrap" | "none";
  readonly exited: Promise<JobExit>;
  /** True between suspend() and resume(). */
  readonly suspended: boolean;
  /**
   * Ends the job with reason "cancelled" (`message` becomes the exit's `detail`): SIGTERM to its
   * processes, SIGKILL after the grace period. No-op once it is ending. Resolves with `exited`.
   */
  cancel(message?: string): Promise<JobExit>;
  /** SIGSTOP every process of the job; its max-duration clock stops, the suspended clock starts. */
  suspend(): void;
  /** SIGCONT every process of the job. */
  resume(): void;
}
