import { stat } from "node:fs/promises";
import { isAbsolute } from "node:path";
import Docker from "dockerode";
import { chownTree } from "../chownTree.ts";
import { DEFAULT_KILL_GRACE_MS } from "../constants.ts";
import { RunError } from "../errors.ts";
import type { JobHandle, JobRuntime, RuntimeStatus, StartJobOptions } from "../runtime.ts";
import { attachOutput } from "./attachOutput.ts";
import {
  CONTAINER_WORK_DIR,
  DEFAULT_DOCKER_SOCKET,
  DEFAULT_DOCKER_USER,
  DEFAULT_IMAGE_POLICY,
  DEFAULT_PIDS_LIMIT,
  DEFAULT_TMPFS_MIB,
  NODE_LABEL,
} from "./constants.ts";
import { containerSpec } from "./containerSpec.ts";
import { dockerGpuSupport } from "./dockerGpuSupport.ts";
import { findContainerCgroups } from "./findContainerCgroups.ts";
import type { ImagePolicy } from "./imagePolicy.ts";
import { parseDockerUser } from "./parseDockerUser.ts";
import { probeDocker } from "./probeDocker.ts";
import { resolveImage } from "./resolveImage.ts";
import { superviseContainer } from "./superviseContainer.ts";

/** How the operator runs jobs in Docker. */
export interface DockerRuntimeInit {
  /** The provider's address: every container is labelled `gridspot.node=<nodeLabel>`. */
  nodeLabel: string;
  /** Default {@link DEFAULT_DOCKER_SOCKET}. */
  socketPath?: string;
  /** Numeric `uid:gid` jobs run as; never root. Default {@link DEFAULT_DOCKER_USER} (nobody). */
  user?: string;
  /** `none` (default): no network at all; `bridge`: egress allowed and metered (`egressBytes`). */
  network?: "none" | "bridge";
  /** Ceiling on any job's processes and threads. Default {@link DEFAULT_PIDS_LIMIT}. */
  pidsLimit?: number;
  /** Size of each job's `/tmp` and `/dev/shm`, MiB (memory). Default {@link DEFAULT_TMPFS_MIB}. */
  tmpfsMiB?: number;
  /**
   * How assigned GPUs reach the container: `nvidia` (DeviceRequests, NVIDIA Container Toolkit),
   * `cdi` (CDI names `nvidia.com/gpu=<uuid>`, Engine ≥ 25), `none`, or `auto` (default: what
   * {@link dockerGpuSupport} finds).
   */
  gpuMode?: "auto" | "nvidia" | "cdi" | "none";
  /** Default {@link DEFAULT_IMAGE_POLICY}: any image on the host, nothing pulled. */
  imagePolicy?: ImagePolicy;
  /** Keep containers after `remove()` (debugging); `cleanupOrphans` still removes them. */
  keepContainers?: boolean;
  /** Told about degraded setups (a GPU mode the host does not seem to support). Default: stderr. */
  onWarning?: (message: string) => void;
}

/**
 * The Docker runtime: each job in its own locked-down container (see {@link containerSpec}), limits
 * enforced by the Engine and {@link superviseContainer}, usage read from the container's cgroup.
 * Connects to the Engine first and finds how GPUs reach containers.
 * @throws RunError on a bad init (root user, unknown network) or when no Engine answers.
 */
export async function createDockerRuntime(init: DockerRuntimeInit): Promise<JobRuntime> {
  const warn = init.onWarning ?? ((message: string) => console.warn(`gridspot:node:run:docker ${message}`));
  const socketPath = init.socketPath ?? DEFAULT_DOCKER_SOCKET;
  const user = init.user ?? DEFAULT_DOCKER_USER;
  const { uid, gid } = parseDockerUser(user);
  const network = init.network ?? "none";
  if (network !== "none" && network !== "bridge") {
    throw new RunError(`docker network must be "none" or "bridge", got ${JSON.stringify(network)}`);
  }
  const pidsCeiling = positiveInteger("pidsLimit", init.pidsLimit ?? DEFAULT_PIDS_LIMIT);
  const tmpfsMiB = positiveInteger("tmpfsMiB", init.tmpfsMiB ?? DEFAULT_TMPFS_MIB);
  if (typeof init.nodeLabel !== "string" || init.nodeLabel === "")
    throw new RunError("docker nodeLabel is empty");
  const policy = init.imagePolicy ?? DEFAULT_IMAGE_POLICY;

  const probe = await probeDocker(socketPath);
  if (!probe.available) throw new RunError(probe.reason, { socketPath });
  const docker = new Docker({ socketPath });
  const detected = await dockerGpuSupport(docker);
  const requested = init.gpuMode ?? "auto";
  const gpuMode = requested === "auto" ? detected.mode : requested;
  if (requested !== "auto" && requested !== "none" && detected.mode !== requested) {
    warn(`gpuMode "${requested}" set, but ${detected.reason}: GPU jobs may fail to start`);
  }
  const gpus: RuntimeStatus["gpus"] =
    gpuMode === "none"
      ? { usable: false, reason: requested === "none" ? "GPUs disabled (gpuMode none)" : detected.reason }
      : {
          usable: true,
          reason: requested === "auto" ? detected.reason : `gpuMode ${gpuMode} set by the operator`,
        };
  const status: RuntimeStatus = {
    kind: "docker",
    description: `docker ${probe.version} (API ${probe.apiVersion})`,
    limits: "docker",
    gpus,
  };
  /** Containers of this runtime's jobs, until removed: never taken for orphans. */
  const live = new Set<string>();

  const start = async (options: StartJobOptions): Promise<JobHandle> => {
    checkOptions(options);
    if (options.gpus.uuids.length > 0 && gpuMode === "none") {
      throw new RunError(`this node cannot give GPUs to containers: ${gpus.reason ?? "gpuMode none"}`, {
        gpus: options.gpus.uuids,
      });
    }
    if (options.image === undefined || options.image === "") {
      throw new RunError("the docker runtime needs an image to run", { jobId: options.jobId });
    }
    const workDirInfo = await stat(options.workDir).catch(() => undefined);
    if (workDirInfo?.isDirectory() !== true) {
      throw new RunError(`work dir ${options.workDir} is not an existing folder`, {
        workDir: options.workDir,
      });
    }
    const image = await resolveImage(docker, { reference: options.image, policy });
    await chownTree(options.workDir, uid, gid).catch((error: NodeJS.ErrnoException) => {
      throw new RunError(
        `cannot give the work dir ${options.workDir} to the job's user ${user} (${error.code ?? error.message}): run the node as root, or set the docker user to the node's own uid:gid`,
        { workDir: options.workDir, user },
        error,
      );
    });
    const pidsLimit = Math.min(options.limits.pids, pidsCeiling);
    const spec = containerSpec({
      jobId: options.jobId,
      nodeLabel: init.nodeLabel,
      imageId: image.id,
      imageReference: options.image,
      entrypoint: options.entrypoint,
      command: options.command,
      args: options.args,
      env: options.env,
      workDir: options.workDir,
      user,
      network,
      limits: options.limits,
      pidsLimit,
      tmpfsMiB,
      gpuMode,
      gpuUuids: options.gpus.uuids,
      imageVolumes: image.volumes,
    });
    const container = await docker.createContainer(spec).catch((error) => {
      throw new RunError(
        `cannot create the job's container: ${(error as Error).message}`,
        { jobId: options.jobId },
        error,
      );
    });
    live.add(container.id);
    try {
      const output = await attachOutput(container, {
        onStdout: options.onStdout,
        onStderr: options.onStderr,
      });
      await container.start();
      const info = await container.inspect();
      const pid = info.State.Pid;
      const startedAt = Date.parse(info.State.StartedAt);
      return superviseContainer(container, {
        workDir: options.workDir,
        imageDigest: image.digest,
        startedAt: Number.isFinite(startedAt) ? startedAt : Date.now(),
        pid,
        cgroups: pid > 0 ? await findContainerCgroups(pid, container.id) : {},
        limits: options.limits,
        pidsLimit,
        killGraceMs: options.killGraceMs ?? DEFAULT_KILL_GRACE_MS,
        egress: network === "bridge",
        keepContainer: init.keepContainers === true,
        output,
        onRemoved: () => live.delete(container.id),
      });
    } catch (error) {
      live.delete(container.id);
      await container.remove({ force: true }).catch(() => {});
      throw new RunError(
        `cannot start the job's container: ${(error as Error).message}`,
        { jobId: options.jobId },
        error,
      );
    }
  };

  const cleanupOrphans = async (): Promise<number> => {
    const containers = await docker.listContainers({
      all: true,
      filters: { label: [`${NODE_LABEL}=${init.nodeLabel}`] },
    });
    let removed = 0;
    for (const summary of containers) {
      if (live.has(summary.Id)) continue;
      const container = docker.getContainer(summary.Id);
      if (summary.State === "paused") await container.unpause().catch(() => {});
      const gone = await container.remove({ force: true }).then(
        () => true,
        (error: { statusCode?: number }) => error.statusCode === 404,
      );
      if (gone) removed += 1;
    }
    return removed;
  };

  return {
    kind: "docker",
    workDirInJob: () => CONTAINER_WORK_DIR,
    start,
    cleanupOrphans,
    status: () => status,
  };
}

function checkOptions(options: StartJobOptions): void {
  if (typeof options.command !== "string" || options.command === "") throw new RunError("empty command");
  if (typeof options.jobId !== "string" || options.jobId === "") throw new RunError("empty jobId");
  if (!isAbsolute(options.workDir)) {
    throw new RunError(`work dir ${options.workDir} is not an absolute path`, { workDir: options.workDir });
  }
  const { cpuCores, memMiB, pids, diskBytes, maxDurationMs, maxSuspendedMs } = options.limits;
  if (!Number.isFinite(cpuCores) || cpuCores <= 0)
    throw new RunError(`cpuCores must be > 0, got ${cpuCores}`);
  // The Engine refuses less than 6 MiB.
  if (!Number.isSafeInteger(memMiB) || memMiB < 6)
    throw new RunError(`memMiB must be an integer ≥ 6, got ${memMiB}`);
  positiveInteger("pids", pids);
  for (const [name, value] of Object.entries({
    diskBytes,
    maxDurationMs,
    maxSuspendedMs,
    killGraceMs: options.killGraceMs,
  })) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new RunError(`${name} must be a non-negative integer, got ${value}`, { [name]: value });
    }
  }
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RunError(`${name} must be a positive integer, got ${value}`, { [name]: value });
  }
  return value;
}
