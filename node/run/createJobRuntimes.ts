import Docker from "dockerode";
import type { ProviderConfig } from "../config/providerConfig.ts";
import { createDockerRuntime } from "./docker/createDockerRuntime.ts";
import { createImageCatalog, type ImageCatalog } from "./docker/createImageCatalog.ts";
import type { ImagePolicy } from "./docker/imagePolicy.ts";
import { imagePolicyFromConfig } from "./docker/imagePolicyFromConfig.ts";
import { probeDocker } from "./docker/probeDocker.ts";
import { RunError } from "./errors.ts";
import { createProcessRuntime } from "./process/createProcessRuntime.ts";
import type { JobRuntime, RuntimeStatus } from "./runtime.ts";

/** What runs this node's jobs: containers for orders with an image, processes for plain commands. */
export interface JobRuntimes {
  readonly docker: JobRuntime | undefined;
  readonly process: JobRuntime | undefined;
  /**
   * The runtime for a job and the image it runs (the operator's default image for a plain command
   * when only Docker runs here), or why this node cannot run it: the bid engine declines such an
   * order with `image-not-allowed`, and the job service refuses such a start.
   */
  pick(job: { image?: string | undefined; gpus: number }): { runtime: JobRuntime; image?: string } | string;
  /** Whether assigned GPUs reach jobs on some runtime, and if not why (offers leave GPUs out then). */
  gpus(): { usable: boolean; reason?: string };
  /** For `GET /v1/status`: each runtime, and what is not available and why. */
  status(): { runtimes: RuntimeStatus[]; notes: string[] };
  /** Removes what a previous run of this node left (labelled containers, job cgroups). */
  cleanupOrphans(): Promise<number>;
  stop(): void;
}

export interface CreateJobRuntimesComponents {
  /** The provider's address: containers are labelled with it. */
  nodeLabel: string;
  onWarning: (message: string) => void;
}

/**
 * Creates the runtimes `runtime.kind` asks for, failing closed:
 * - `docker`: a Docker Engine must answer on `runtime.docker.socketPath`;
 * - `process`: bubblewrap must work (unless `runtime.sandbox` is explicitly `none`);
 * - `auto`: Docker when its socket answers (orders with an image) and the process runtime when its
 *   sandbox works (plain commands); one of them must. With Docker only, plain commands run in
 *   `runtime.docker.defaultImage` or are declined.
 * @throws RunError saying what is missing and how to fix it.
 */
export async function createJobRuntimes(
  components: CreateJobRuntimesComponents,
  config: ProviderConfig["runtime"],
): Promise<JobRuntimes> {
  const notes: string[] = [];
  const [uid, gid] = config.user.split(":").map(Number) as [number, number];
  const policy: ImagePolicy = imagePolicyFromConfig(config.docker);

  let docker: JobRuntime | undefined;
  let catalog: ImageCatalog | undefined;
  if (config.kind !== "process") {
    const probe = await probeDocker(config.docker.socketPath);
    if (probe.available) {
      docker = await createDockerRuntime({
        nodeLabel: components.nodeLabel,
        socketPath: config.docker.socketPath,
        user: config.user,
        network: config.network === "egress" ? "bridge" : "none",
        pidsLimit: config.pidsLimit,
        tmpfsMiB: config.docker.tmpfsMiB,
        gpuMode: config.docker.gpuMode,
        imagePolicy: policy,
        keepContainers: config.keepWorkDirs,
        onWarning: components.onWarning,
      });
      catalog = await createImageCatalog(new Docker({ socketPath: config.docker.socketPath }), policy);
    } else if (config.kind === "docker") {
      throw new RunError(
        `runtime.kind is "docker" but ${probe.reason}: start the Docker Engine (e.g. \`systemctl start docker\`, or \`dockerd &\` as root), or set runtime.kind to "process" or "auto"`,
        { socketPath: config.docker.socketPath },
      );
    } else {
      notes.push(`no container jobs: ${probe.reason}`);
    }
  }

  let processRuntime: JobRuntime | undefined;
  if (config.kind !== "docker") {
    try {
      processRuntime = await createProcessRuntime({
        sandbox: config.sandbox,
        uid,
        gid,
        onWarning: components.onWarning,
      });
    } catch (error) {
      // Fail closed: without Docker the sandbox is the only way to run a job safely.
      if (docker === undefined || config.kind === "process") throw error;
      notes.push(`no plain-command jobs: ${(error as Error).message}`);
    }
  }
  if (docker !== undefined && processRuntime === undefined) {
    notes.push(
      config.docker.defaultImage === undefined
        ? "orders without --image are declined (set runtime.docker.defaultImage to run them in an image)"
        : `orders without --image run in ${config.docker.defaultImage}`,
    );
  }

  const gpus = (runtime: JobRuntime | undefined) => runtime?.status().gpus ?? { usable: false };
  const pick: JobRuntimes["pick"] = (job) => {
    if (job.image !== undefined) {
      if (docker === undefined)
        return "this provider runs no containers (no Docker Engine): order without --image";
      const refusal = catalog?.refuse(job.image);
      if (refusal !== undefined) return refusal;
      if (job.gpus > 0 && !gpus(docker).usable)
        return `this provider cannot give GPUs to containers: ${gpus(docker).reason ?? "no GPU support"}`;
      return { runtime: docker, image: job.image };
    }
    if (processRuntime !== undefined) return { runtime: processRuntime };
    const fallback = config.docker.defaultImage;
    if (docker !== undefined && fallback !== undefined) return pick({ ...job, image: fallback });
    return "this provider runs jobs only in container images: give --image";
  };

  return {
    docker,
    process: processRuntime,
    pick,
    gpus() {
      if (processRuntime !== undefined) return gpus(processRuntime);
      return gpus(docker);
    },
    status: () => ({
      runtimes: [docker, processRuntime].flatMap((r) => (r === undefined ? [] : [r.status()])),
      notes,
    }),
    async cleanupOrphans() {
      let removed = 0;
      for (const runtime of [docker, processRuntime]) removed += (await runtime?.cleanupOrphans()) ?? 0;
      return removed;
    },
    stop: () => catalog?.stop(),
  };
}
