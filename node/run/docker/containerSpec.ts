import type Docker from "dockerode";
import { jobEnv } from "../jobEnv.ts";
import type { JobLimits } from "../runtime.ts";
import { CONTAINER_LOG_MAX_SIZE, CONTAINER_WORK_DIR, JOB_LABEL, NODE_LABEL } from "./constants.ts";

const MIB = 1024 * 1024;

/** Everything {@link containerSpec} puts into a job's container. */
export interface ContainerSpecParameters {
  jobId: string;
  /** The provider's address: the `gridspot.node` label that `cleanupOrphans` looks for. */
  nodeLabel: string;
  /** The image ID to run (resolved already, so a tag moved since cannot swap the image). */
  imageId: string;
  /** The reference the job named, kept as a label for the operator. */
  imageReference: string;
  entrypoint?: readonly string[] | undefined;
  command: string;
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  /** Host path of the work dir, mounted read-write at `/work`. */
  workDir: string;
  /** Numeric `uid:gid`, never root. */
  user: string;
  network: "none" | "bridge";
  limits: Pick<JobLimits, "cpuCores" | "memMiB">;
  /** The pids limit applied (the job's, capped by the operator's). */
  pidsLimit: number;
  tmpfsMiB: number;
  gpuMode: "nvidia" | "cdi" | "none";
  gpuUuids: readonly string[];
  /** Paths the image declares as VOLUME: covered with tmpfs so the Engine makes no volume on the host. */
  imageVolumes: readonly string[];
}

/**
 * The Engine's create body for a job container. The job gets: a numeric non-root user, no
 * capabilities, no-new-privileges, a read-only root, its work dir as the only writable host mount
 * (`/work`, its working directory), small memory-backed `/tmp` and `/dev/shm` (noexec, charged to
 * its memory limit), no network unless egress is allowed, the CPU, memory (swap included) and pids
 * limits, only its GPUs, a tiny init (docker-init) that forwards signals and reaps orphans, and an
 * environment made of its own variables plus the GPU assignment: nothing from the daemon.
 * @throws RunError on an invalid variable name or value.
 */
export function containerSpec(p: ContainerSpecParameters): Docker.ContainerCreateOptions {
  const env = jobEnv(
    {},
    p.env,
    p.gpuUuids.map((_, index) => index),
  );
  // The toolkit reads this from the container's env: set it so neither the job nor the image (CUDA
  // images say `all`) can reach GPUs it was not given, even where nvidia is the default runtime.
  env.NVIDIA_VISIBLE_DEVICES = p.gpuUuids.length === 0 ? "void" : p.gpuUuids.join(",");
  const tmpfs = (target: string): Docker.MountSettings => ({
    Type: "tmpfs",
    Source: "",
    Target: target,
    TmpfsOptions: { SizeBytes: p.tmpfsMiB * MIB, Mode: 0o1777 },
  });
  const covered = new Set([CONTAINER_WORK_DIR, "/tmp"]);
  const gpuRequests: Docker.DeviceRequest[] =
    p.gpuUuids.length === 0 || p.gpuMode === "none"
      ? []
      : p.gpuMode === "nvidia"
        ? [{ Driver: "nvidia", DeviceIDs: [...p.gpuUuids], Capabilities: [["gpu"]] }]
        : [{ Driver: "cdi", DeviceIDs: p.gpuUuids.map((uuid) => `nvidia.com/gpu=${uuid}`) }];

  return {
    Image: p.imageId,
    Cmd: [p.command, ...p.args],
    ...(p.entrypoint === undefined ? {} : { Entrypoint: [...p.entrypoint] }),
    Env: Object.entries(env).map(([name, value]) => `${name}=${value}`),
    User: p.user,
    WorkingDir: CONTAINER_WORK_DIR,
    Labels: { [NODE_LABEL]: p.nodeLabel, [JOB_LABEL]: p.jobId, "gridspot.image": p.imageReference },
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: false,
    Tty: false,
    Healthcheck: { Test: ["NONE"] },
    HostConfig: {
      Init: true,
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Privileged: false,
      NetworkMode: p.network,
      IpcMode: "private",
      ShmSize: p.tmpfsMiB * MIB,
      Mounts: [
        { Type: "bind", Source: p.workDir, Target: CONTAINER_WORK_DIR, ReadOnly: false },
        tmpfs("/tmp"),
        ...p.imageVolumes.filter((path) => !covered.has(path.replace(/\/+$/, ""))).map(tmpfs),
      ],
      NanoCpus: Math.round(p.limits.cpuCores * 1e9),
      Memory: p.limits.memMiB * MIB,
      MemorySwap: p.limits.memMiB * MIB,
      PidsLimit: p.pidsLimit,
      DeviceRequests: gpuRequests,
      RestartPolicy: { Name: "no" },
      AutoRemove: false,
      LogConfig: { Type: "json-file", Config: { "max-size": CONTAINER_LOG_MAX_SIZE, "max-file": "1" } },
    },
  };
}
