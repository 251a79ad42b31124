import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import {
  createDockerRuntime,
  type DockerRuntimeInit,
} from "../../../../node/run/docker/createDockerRuntime.ts";
import type { JobHandle, JobLimits, JobRuntime, StartJobOptions } from "../../../../node/run/runtime.ts";
import { ensureBusyboxImage } from "../../../../scripts/lib/localImages.ts";
import { DOCKER_SOCKET } from "../../../support/requires.ts";

export const IMAGE = "gridspot/busybox:local";

export const LIMITS: JobLimits = {
  cpuCores: 1,
  memMiB: 64,
  pids: 64,
  diskBytes: 50 * 1024 * 1024,
  maxDurationMs: 30_000,
};

/** A client of the test Engine. */
export function dockerClient(): Docker {
  return new Docker({ socketPath: DOCKER_SOCKET });
}

/**
 * A Docker runtime for one test file, with its own node label (so files running side by side never
 * take each other's containers for orphans), the busybox image built, and a `run` that remembers
 * every job and work dir for `cleanup`.
 */
export async function testRuntime(init: Partial<DockerRuntimeInit> = {}) {
  const docker = dockerClient();
  await ensureBusyboxImage(docker, IMAGE);
  const nodeLabel = init.nodeLabel ?? `test-${randomBytes(6).toString("hex")}`;
  const runtime = await createDockerRuntime({
    socketPath: DOCKER_SOCKET,
    onWarning: () => {},
    ...init,
    nodeLabel,
  });
  return withJobs(runtime, docker, nodeLabel);
}

function withJobs(runtime: JobRuntime, docker: Docker, nodeLabel: string) {
  const handles: JobHandle[] = [];
  const workDirs: string[] = [];
  return {
    runtime,
    docker,
    nodeLabel,
    /** A fresh work dir under the OS temp dir. */
    workDir(): string {
      const dir = mkdtempSync(join(tmpdir(), "gridspot-docker-test-"));
      workDirs.push(dir);
      return dir;
    },
    /** Runs `sh -c script` in the busybox image. */
    async sh(script: string, options: Partial<StartJobOptions> = {}): Promise<JobHandle> {
      const handle = await runtime.start({
        jobId: `job-${randomBytes(4).toString("hex")}`,
        image: IMAGE,
        command: "sh",
        args: ["-c", script],
        env: {},
        workDir: options.workDir ?? this.workDir(),
        gpus: { indices: [], uuids: [] },
        limits: LIMITS,
        killGraceMs: 1_000,
        ...options,
      });
      handles.push(handle);
      return handle;
    },
    /** Cancels and removes every job started here, then removes anything left with this node's label. */
    async cleanup(): Promise<void> {
      for (const handle of handles.splice(0)) {
        await handle.cancel("test cleanup");
        await handle.remove();
      }
      const left = await docker.listContainers({
        all: true,
        filters: { label: [`gridspot.node=${nodeLabel}`] },
      });
      for (const c of left)
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {});
      for (const dir of workDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Collects a job's output as text. */
export function textSink() {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  return {
    onStdout: (chunk: Buffer) => void out.push(chunk),
    onStderr: (chunk: Buffer) => void err.push(chunk),
    stdout: () => Buffer.concat(out).toString("utf8"),
    stderr: () => Buffer.concat(err).toString("utf8"),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
