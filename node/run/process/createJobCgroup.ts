import { existsSync, mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RunError } from "../errors.ts";
import type { JobLimits } from "../runtime.ts";
import { CPU_PERIOD_US, MIN_CPU_QUOTA_US } from "./constants.ts";
import { jobCgroup } from "./jobCgroup.ts";
import type { CgroupParent, JobCgroup } from "./types.ts";

/** Options for {@link createJobCgroup}. */
export interface CreateJobCgroupOptions {
  /** Its folder name (unique per job and daemon). */
  name: string;
  limits: Pick<JobLimits, "cpuCores" | "memMiB" | "pids">;
  /** Processes the runtime itself keeps in it (bubblewrap), added to pids.max. */
  pidsOverhead?: number;
}

/**
 * Makes a job's cgroup under `parent` with its limits: memory (swap included: none allowed), CPU
 * bandwidth (cores × period per period), processes and threads. The job enters it before it runs.
 * @throws RunError when it exists already or a limit cannot be set (what was made is removed).
 */
export function createJobCgroup(parent: CgroupParent, options: CreateJobCgroupOptions): JobCgroup {
  const cgroup = jobCgroup(parent, options.name);
  const memBytes = String(options.limits.memMiB * 1024 * 1024);
  const quota = String(Math.max(MIN_CPU_QUOTA_US, Math.round(options.limits.cpuCores * CPU_PERIOD_US)));
  const pidsMax = String(options.limits.pids + (options.pidsOverhead ?? 0));
  const made: string[] = [];
  try {
    for (const dir of cgroup.dirs) {
      mkdirSync(dir);
      made.push(dir);
    }
    if (parent.version === 2) {
      const dir = join(parent.dir, options.name);
      writeFileSync(join(dir, "memory.max"), memBytes);
      if (existsSync(join(dir, "memory.swap.max"))) writeFileSync(join(dir, "memory.swap.max"), "0");
      writeFileSync(join(dir, "cpu.max"), `${quota} ${CPU_PERIOD_US}`);
      writeFileSync(join(dir, "pids.max"), pidsMax);
    } else {
      const at = (dir: string, file: string) => join(dir, options.name, file);
      const { memory, cpu, pids } = parent.dirs;
      writeFileSync(at(memory, "memory.limit_in_bytes"), memBytes);
      if (existsSync(at(memory, "memory.memsw.limit_in_bytes"))) {
        writeFileSync(at(memory, "memory.memsw.limit_in_bytes"), memBytes);
      } else {
        writeFileSync(at(memory, "memory.swappiness"), "0");
      }
      writeFileSync(at(cpu, "cpu.cfs_period_us"), String(CPU_PERIOD_US));
      writeFileSync(at(cpu, "cpu.cfs_quota_us"), quota);
      writeFileSync(at(pids, "pids.max"), pidsMax);
    }
    return cgroup;
  } catch (error) {
    // Only what this call made: an existing folder of that name is another job's.
    for (const dir of made.reverse()) {
      try {
        rmdirSync(dir);
      } catch {}
    }
    throw new RunError(
      `cannot make the job's cgroup ${options.name}: ${(error as Error).message}`,
      { cgroup: options.name },
      error,
    );
  }
}
