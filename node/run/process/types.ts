/**
 * Where job cgroups are made: `<hierarchy>/gridspot/<job>` (v2), or the same under each controller's
 * hierarchy (v1; `freezer` when mounted).
 */
export type CgroupParent =
  | { version: 2; dir: string }
  | {
      version: 1;
      dirs: { memory: string; cpu: string; cpuacct: string; pids: string; freezer?: string };
    };

/** One reading of a job cgroup. */
export interface CgroupUsage {
  /** Cumulative CPU time, ms (v1 cpuacct.usage, v2 cpu.stat usage_usec). */
  cpuMs: bigint;
  /** Memory in use without page cache, KiB. */
  memKiB: bigint;
  /** Processes and threads (pids.current). */
  pids: number;
  /** Host pids of its processes (cgroup.procs). */
  hostPids: number[];
}

/** Counters of limits a job cgroup hit since it was made. */
export interface CgroupLimitHits {
  /** Processes the kernel OOM-killed in it (v1 memory.oom_control, v2 memory.events `oom_kill`). */
  oomKills: number;
  /** Whether the v1 kernel reports no `oom_kill` counter (then `memFailcnt` is the evidence). */
  oomKillsUnknown: boolean;
  /** v1: times usage hit the memory limit (memory.memsw.failcnt or memory.failcnt). */
  memFailcnt: number;
  /** Forks refused by pids.max (pids.events `max`). */
  pidsMax: number;
}

/** A job's cgroup (one folder per v1 controller, or one v2 folder). Never throws on a vanished cgroup. */
export interface JobCgroup {
  readonly version: 1 | 2;
  readonly name: string;
  /** Its folders. */
  readonly dirs: readonly string[];
  /** The cgroup.procs files a process writes its pid into to enter every hierarchy. */
  readonly procsFiles: readonly string[];
  /** Whether it can be frozen (v1 freezer mounted, v2 cgroup.freeze). */
  readonly canFreeze: boolean;
  /** Host pids of the processes in it now. */
  pids(): number[];
  /** Its usage now; undefined once it is gone. */
  usage(): CgroupUsage | undefined;
  limitHits(): CgroupLimitHits;
  /** Freezes every process in it and waits (bounded) until the kernel says frozen. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** SIGKILLs every process in it, and whatever they fork meanwhile; true once it is empty. */
  killAll(): Promise<boolean>;
  /** Kills what is left and removes its folders. */
  remove(): Promise<void>;
}
