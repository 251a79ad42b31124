import { mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach } from "vitest";
import { DEFAULT_CGROUP_ROOT } from "../../../../node/run/process/constants.ts";
import { openCgroupParent } from "../../../../node/run/process/openCgroupParent.ts";
import type { JobHandle, JobLimits, JobRuntime, StartJobOptions } from "../../../../node/run/runtime.ts";

/** The Node running the tests: bound into the sandbox by its path, like the daemon's. */
export const NODE = process.execPath;

/** Why tests of per-job cgroups cannot run here, or undefined when they can. */
export const cgroupsMissing: string | undefined = (() => {
  if (process.getuid?.() !== 0) return "per-job cgroups need a root daemon";
  const opened = openCgroupParent(DEFAULT_CGROUP_ROOT);
  return "reason" in opened ? opened.reason : undefined;
})();

/** Limits roomy enough not to get in the way of a test that is not about them. */
export const ROOMY: JobLimits = {
  cpuCores: 2,
  memMiB: 1024,
  pids: 256,
  diskBytes: 256 * 1024 * 1024,
  maxDurationMs: 30_000,
};

/** True when the process no longer runs (missing, or a zombie nobody has reaped yet). */
export function isGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/** The real uid of a live process as the host sees it. */
export function hostUid(pid: number): number | undefined {
  try {
    const line = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return line?.[1] === undefined ? undefined : Number(line[1]);
  } catch {
    return undefined;
  }
}

/** Polls `check` every 20 ms for at most `timeoutMs`; returns its last answer. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

/** Collects a job's stdout as text. */
export function textSink() {
  const chunks: Buffer[] = [];
  return {
    onStdout: (chunk: Buffer) => {
      chunks.push(chunk);
    },
    chunks,
    text: () => Buffer.concat(chunks).toString("utf8"),
  };
}

/** Extra options of {@link startJob}: anything of StartJobOptions, limits merged over {@link ROOMY}. */
export type JobExtras = Partial<Omit<StartJobOptions, "limits">> & { limits?: Partial<JobLimits> };

/**
 * Starts jobs on a runtime in fresh work dirs and, after each test, cancels what is left, removes
 * it (its cgroup) and deletes its work dir.
 */
export function jobStarter(runtime: () => JobRuntime) {
  const started: JobHandle[] = [];
  afterEach(async () => {
    for (const handle of started.splice(0)) {
      await handle.cancel("test cleanup");
      await handle.remove();
      rmSync(handle.workDir, { recursive: true, force: true });
    }
  });
  let n = 0;
  return async (command: string, args: readonly string[], extra: JobExtras = {}): Promise<JobHandle> => {
    const { limits, ...rest } = extra;
    const handle = await runtime().start({
      jobId: `test-${process.pid}-${++n}-${Date.now()}`,
      command,
      args,
      env: {},
      workDir: realpathSync(mkdtempSync(join(tmpdir(), "gridspot-job-"))),
      gpus: { indices: [], uuids: [] },
      killGraceMs: 2_000,
      ...rest,
      limits: { ...ROOMY, ...limits },
    });
    started.push(handle);
    return handle;
  };
}

/** Runs a job to its end; returns its stdout and exit. */
export async function runToEnd(
  start: ReturnType<typeof jobStarter>,
  command: string,
  args: readonly string[],
  extra: JobExtras = {},
) {
  const out = textSink();
  const handle = await start(command, args, { ...out, ...extra });
  const exit = await handle.exited;
  return { stdout: out.text(), exit, handle };
}
