import type { JobExit } from "./types.ts";

/** Which runtime runs a job: containers through the Docker Engine, or processes under bubblewrap. */
export type RuntimeKind = "docker" | "process";

/**
 * The limits a job runs under: what the agreement sold (cores, memory, duration) and the operator's
 * defaults (processes, disk). Each runtime enforces every one of them; a job that hits one is
 * stopped with the matching exit reason (`oom`, `pids`, `disk-quota`, `timeout`).
 */
export interface JobLimits {
  /** CPU cores the job may use at once (Docker `NanoCpus`, cgroup `cpu.max` / cfs quota). */
  cpuCores: number;
  /** Memory, MiB, swap included (Docker `Memory` = `MemorySwap`). */
  memMiB: number;
  /** Processes and threads at once. */
  pids: number;
  /** Bytes the job may hold in its work dir. */
  diskBytes: number;
  /** Running time; suspended time does not count. */
  maxDurationMs: number;
  /** Suspended time before the job is killed with reason `suspended-timeout`; unlimited when absent. */
  maxSuspendedMs?: number;
}

/** GPUs assigned to a job: nvidia-smi indices (CUDA_VISIBLE_DEVICES, device nodes) and UUIDs (Docker). */
export interface JobGpus {
  indices: readonly number[];
  uuids: readonly string[];
}

/** What a runtime needs to start one job. The work dir exists and holds the inputs already. */
export interface StartJobOptions {
  jobId: string;
  /** The container image (Docker runtime). The process runtime refuses a job that names one. */
  image?: string;
  /** Replaces the image's entrypoint (Docker runtime). */
  entrypoint?: readonly string[];
  command: string;
  args: readonly string[];
  /** The job's own variables (validated names); the runtime adds only what it must (GPU assignment). */
  env: Readonly<Record<string, string>>;
  /** Absolute path of the job's work dir on the host: the only place it may write. */
  workDir: string;
  gpus: JobGpus;
  limits: JobLimits;
  /** Time between the polite stop (SIGTERM) and SIGKILL on cancel or timeout. */
  killGraceMs?: number;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
}

/**
 * One reading of a job's resource use, from its cgroup where it has one (Docker stats, the process
 * runtime's per-job cgroup), else from its process tree. Cumulative where it says so.
 */
export interface ResourceSample {
  /** Cumulative CPU time of everything the job ran, ms (cgroup cpuacct / cpu.stat usage). */
  cpuMs: bigint;
  /** Memory in use now, KiB: the cgroup's usage (without page cache where the cgroup says so), or Σ PSS. */
  memKiB: bigint;
  /** Live processes and threads of the job now. */
  pids: number;
  /** Host pids of the job's processes where the runtime knows them (GPU metering matches on them). */
  hostPids: readonly number[];
  /** Cumulative bytes the job sent over the network (only with egress allowed). */
  egressBytes?: bigint;
}

/** A started job. */
export interface JobHandle {
  /** The container id, or the root pid as text: for logs and the operator API. */
  readonly id: string;
  readonly runtime: RuntimeKind;
  readonly workDir: string;
  /** How it is isolated, one word for the submitter: `docker`, `bwrap` or `none`. */
  readonly sandbox: "docker" | "bwrap" | "none";
  /** What actually ran: the image's repo digest, or its image ID `sha256:…` (Docker runtime only). */
  readonly imageDigest?: string;
  /** Epoch ms when the job's first process started. */
  readonly startedAt: number;
  /** Settles once the job and everything it started are gone (never rejects). */
  readonly exited: Promise<JobExit>;
  readonly suspended: boolean;
  /** Ends the job with reason `cancelled` (polite stop, then kill after the grace period). */
  cancel(message?: string): Promise<JobExit>;
  /** Freezes every process of the job; its max-duration clock stops. */
  suspend(): Promise<void>;
  resume(): Promise<void>;
  /** Reads the job's usage now; after the job is gone, its last reading. Never rejects. */
  sample(): Promise<ResourceSample>;
  /**
   * Removes what the job left on the host (container, cgroup), killing whatever still runs; the work
   * dir is the caller's. Call it once the job has exited and its last sample is taken.
   */
  remove(): Promise<void>;
}

/** What a runtime says about itself in `GET /v1/status`. */
export interface RuntimeStatus {
  kind: RuntimeKind;
  /** e.g. `docker 20.10.24 (API 1.41)`, `bwrap 0.8.0`, `no sandbox`. */
  description: string;
  /** How limits are enforced: `cgroup-v1`, `cgroup-v2`, `rlimits`, `docker`. */
  limits: string;
  /** Whether assigned GPUs reach jobs, and if not, why. */
  gpus: { usable: boolean; reason?: string };
}

/** Runs jobs. One per node, chosen at start (`runtime.kind`). */
export interface JobRuntime {
  readonly kind: RuntimeKind;
  /**
   * Where a job sees its work dir (to name files in it in the job's environment): `/work` in a
   * container, its host path in the sandbox, `.` (its starting directory) without one, where the
   * job's unprivileged user cannot walk the node's data dir to it.
   */
  workDirInJob(workDir: string): string;
  start(options: StartJobOptions): Promise<JobHandle>;
  /** Stops and removes what a previous run of this node left behind; returns how many. */
  cleanupOrphans(): Promise<number>;
  status(): RuntimeStatus;
}
