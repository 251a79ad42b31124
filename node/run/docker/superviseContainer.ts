import { type FSWatcher, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { join } from "node:path";
import type Docker from "dockerode";
import { STDIO_DRAIN_MS } from "../constants.ts";
import { createDiskWatchdog } from "../createDiskWatchdog.ts";
import { createRunClock } from "../createRunClock.ts";
import type { JobHandle, JobLimits, ResourceSample } from "../runtime.ts";
import type { ExitReason, JobExit } from "../types.ts";
import type { AttachedOutput } from "./attachOutput.ts";
import { CGROUP_POLL_MS, DISK_POLL_MS, DOCKER_CALL_TIMEOUT_MS, SIGNAL_EXIT_BASE } from "./constants.ts";
import type { ContainerCgroups } from "./findContainerCgroups.ts";
import { readCgroupUsage } from "./readCgroupUsage.ts";
import { readEgressBytes } from "./readEgressBytes.ts";
import { statsToSample } from "./statsToSample.ts";

/** What {@link superviseContainer} watches and enforces on a started job container. */
export interface SuperviseContainerParameters {
  workDir: string;
  imageDigest: string;
  /** Epoch ms the container started. */
  startedAt: number;
  /** Host pid of the container's init (its network namespace is read for egress); 0 if unknown. */
  pid: number;
  /** The container's cgroup folders on the host (empty: sample through the Engine's stats). */
  cgroups: ContainerCgroups;
  limits: JobLimits;
  /** The pids limit applied to the container. */
  pidsLimit: number;
  killGraceMs: number;
  /** Egress allowed: report bytes sent. */
  egress: boolean;
  /** Leave the container on the host when `remove()` is called (debugging). */
  keepContainer: boolean;
  output: AttachedOutput;
  /** Told once the container is removed (the runtime stops tracking it). */
  onRemoved?: () => void;
}

type EndReason = Exclude<ExitReason, "exit">;

/**
 * Wraps a started job container into a {@link JobHandle}. It enforces the limits the Engine cannot:
 * the max running time (paused time does not count), the suspended time, the pids limit (the first
 * failed fork or clone counted in `pids.events` kills the job, where the Engine would leave it
 * spinning), and the disk quota (the work dir is measured, over the quota kills the job). The
 * memory limit is the Engine's: its OOM kill becomes reason `oom`. Cancel and timeout send SIGTERM
 * (docker-init passes it on), then SIGKILL after the grace period; limits kill at once.
 */
export function superviseContainer(container: Docker.Container, p: SuperviseContainerParameters): JobHandle {
  const { limits } = p;
  let reason: EndReason | undefined;
  let detail: string | undefined;
  let done = false;
  let removed = false;
  let suspended = false;
  let killTimer: NodeJS.Timeout | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let pidsLimitHits = 0;
  let last: ResourceSample = {
    cpuMs: 0n,
    memKiB: 0n,
    pids: 0,
    hostPids: [],
    ...(p.egress ? { egressBytes: 0n } : {}),
  };
  /** Pause, unpause and kill calls, one after the other. */
  let engineCalls: Promise<unknown> = Promise.resolve();
  const serialize = <T>(call: () => Promise<T>): Promise<T> => {
    const next = engineCalls.then(call);
    engineCalls = next.catch(() => {});
    return next;
  };
  const watchCgroup =
    p.cgroups.cpu !== undefined || p.cgroups.memory !== undefined || p.cgroups.pids !== undefined;

  const readSample = async (): Promise<ResourceSample> => {
    if (done) return last;
    if (watchCgroup) {
      const [usage, egress] = await Promise.all([
        readCgroupUsage(p.cgroups),
        p.egress && p.pid > 0 ? readEgressBytes(p.pid) : Promise.resolve(undefined),
      ]);
      if (usage === undefined || done) return last;
      pidsLimitHits = Math.max(pidsLimitHits, usage.pidsLimitHits);
      const { pidsLimitHits: _, ...sample } = usage;
      last = p.egress ? { ...sample, egressBytes: egress ?? last.egressBytes ?? 0n } : sample;
      return last;
    }
    const stats = await container.stats({ stream: false, "one-shot": true });
    if (!done) last = statsToSample(stats, { egress: p.egress });
    return last;
  };

  const kill = (signal: "SIGTERM" | "SIGKILL") =>
    serialize(async () => {
      if (done) return;
      if (suspended) {
        // A paused container's processes cannot act on a signal: thaw them first.
        await container.unpause({ abortSignal: AbortSignal.timeout(DOCKER_CALL_TIMEOUT_MS) }).catch(() => {});
        suspended = false;
      }
      await container
        .kill({ signal, abortSignal: AbortSignal.timeout(DOCKER_CALL_TIMEOUT_MS) })
        .catch(() => {});
    });

  const terminate = (why: EndReason, message: string, hard = false): Promise<JobExit> => {
    if (done || reason !== undefined) return exited;
    reason = why;
    detail = message;
    clock.stop();
    if (hard || p.killGraceMs <= 0) void kill("SIGKILL");
    else {
      void kill("SIGTERM");
      killTimer = setTimeout(() => void kill("SIGKILL"), p.killGraceMs);
    }
    return exited;
  };

  const clock = createRunClock({
    maxDurationMs: limits.maxDurationMs,
    maxSuspendedMs: limits.maxSuspendedMs,
    onTimeout: (message) => void terminate("timeout", message),
    onSuspendedTimeout: (message) => void terminate("suspended-timeout", message),
  });

  const watchdog = createDiskWatchdog({
    workDir: p.workDir,
    maxBytes: limits.diskBytes,
    intervalMs: DISK_POLL_MS,
    onExceeded: (used) => void terminate("disk-quota", diskDetail(used, limits.diskBytes), true),
  });

  const checkPids = () => {
    if (pidsLimitHits > 0) {
      void terminate("pids", `tried to run more than its ${p.pidsLimit} processes and threads`, true);
    }
  };
  const poll = () => {
    pollTimer = setTimeout(() => {
      readSample()
        .catch(() => last)
        .then(() => {
          checkPids();
          if (!done) poll();
        });
    }, CGROUP_POLL_MS);
    pollTimer.unref();
  };
  if (watchCgroup) poll();
  // The kernel notifies a change of `pids.events` (inotify): a failed fork is seen at once, before a
  // job that gives up on it exits and its cgroup, with the counter, is gone.
  const pidsEvents = p.cgroups.pids === undefined ? undefined : join(p.cgroups.pids.dir, "pids.events");
  let pidsWatcher: FSWatcher | undefined;
  if (pidsEvents !== undefined) {
    try {
      const readPidsEvents = () =>
        void readFile(pidsEvents, "utf8").then(
          (text) => {
            pidsLimitHits = Math.max(pidsLimitHits, Number(/^max (\d+)$/m.exec(text)?.[1] ?? 0));
            checkPids();
          },
          () => {},
        );
      pidsWatcher = watch(pidsEvents, { persistent: false }, readPidsEvents);
      pidsWatcher.on("error", () => {});
      readPidsEvents();
    } catch {
      // The poll still catches it.
    }
  }

  const exited: Promise<JobExit> = (async () => {
    const statusCode = await waitForExit(container);
    done = true;
    clock.stop();
    clearTimeout(killTimer);
    clearTimeout(pollTimer);
    pidsWatcher?.close();
    const info = await container.inspect().catch(() => undefined);
    const exitCode = info?.State.ExitCode ?? statusCode;
    const diskUsed = await watchdog.stop().catch(() => 0);
    if (reason === undefined) {
      if (info?.State.OOMKilled === true) {
        reason = "oom";
        detail = `used more than its ${limits.memMiB} MiB of memory`;
      } else if (pidsLimitHits > 0 && exitCode !== 0) {
        reason = "pids";
        detail = `tried to run more than its ${p.pidsLimit} processes and threads`;
      } else if (diskUsed > limits.diskBytes) {
        reason = "disk-quota";
        detail = diskDetail(diskUsed, limits.diskBytes);
      }
    }
    // Let the last output arrive, but not forever.
    let drainTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      p.output.ended,
      new Promise<void>((resolve) => {
        drainTimer = setTimeout(resolve, STDIO_DRAIN_MS);
      }),
    ]);
    clearTimeout(drainTimer);
    p.output.destroy();

    const signal = reason === undefined ? null : signalOf(exitCode);
    const finishedAt = Date.parse(info?.State.FinishedAt ?? "");
    return {
      exitCode: signal === null ? exitCode : null,
      signal,
      reason: reason ?? "exit",
      startedAt: p.startedAt,
      endedAt: Number.isFinite(finishedAt) && finishedAt >= p.startedAt ? finishedAt : Date.now(),
      ...(detail === undefined ? {} : { detail }),
    };
  })();

  return {
    id: container.id,
    runtime: "docker",
    workDir: p.workDir,
    sandbox: "docker",
    imageDigest: p.imageDigest,
    startedAt: p.startedAt,
    exited,
    get suspended() {
      return suspended;
    },
    cancel: (message = "cancelled") => terminate("cancelled", message),
    suspend: () =>
      serialize(async () => {
        if (done || suspended || reason !== undefined) return;
        await container.pause({ abortSignal: AbortSignal.timeout(DOCKER_CALL_TIMEOUT_MS) });
        suspended = true;
        clock.pause();
      }),
    resume: () =>
      serialize(async () => {
        if (done || !suspended || reason !== undefined) return;
        await container.unpause({ abortSignal: AbortSignal.timeout(DOCKER_CALL_TIMEOUT_MS) });
        suspended = false;
        clock.resume();
      }),
    sample: () => readSample().catch(() => last),
    async remove() {
      if (!done) void terminate("cancelled", "removed while running", true);
      if (!p.keepContainer && !removed) {
        await container.remove({ force: true }).catch((error: { statusCode?: number }) => {
          if (error.statusCode !== 404 && error.statusCode !== 409) throw error;
        });
        removed = true;
      }
      await exited;
      p.onRemoved?.();
    },
  };
}

/** Waits for the container to stop; a dropped wait (Engine restart) is retried, a vanished container ends it. */
async function waitForExit(container: Docker.Container): Promise<number | null> {
  for (;;) {
    try {
      const result = (await container.wait({ condition: "not-running" })) as { StatusCode?: number };
      return result.StatusCode ?? null;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return null;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

/** The signal a status of 128+n means (docker-init and the Engine report a killed job so). */
function signalOf(exitCode: number | null): NodeJS.Signals | null {
  if (exitCode === null || exitCode <= SIGNAL_EXIT_BASE) return null;
  const number = exitCode - SIGNAL_EXIT_BASE;
  const entry = Object.entries(osConstants.signals).find(([, n]) => n === number);
  return entry === undefined ? null : (entry[0] as NodeJS.Signals);
}

function diskDetail(usedBytes: number, quotaBytes: number): string {
  return `held ${mib(usedBytes)} in its work dir, more than its ${mib(quotaBytes)} quota`;
}

function mib(bytes: number): string {
  const value = bytes / (1024 * 1024);
  return `${Number.isInteger(value) ? value : value.toFixed(1)} MiB`;
}
