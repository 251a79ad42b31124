import type Docker from "dockerode";
import { CONTAINER_WORK_DIR } from "../../run/docker/constants.ts";
import { containerSpec } from "../../run/docker/containerSpec.ts";
import { ENDPOINT_LABEL, REPLICA_LABEL } from "./constants.ts";

const MIB = 1024 * 1024;

/** What {@link replicaContainerSpec} puts into a replica's container. */
export interface ReplicaContainerSpecParameters {
  replicaId: string;
  endpointId: string;
  nodeLabel: string;
  imageId: string;
  imageReference: string;
  /** Replace the image's entrypoint and command; the image's own run when absent. */
  entrypoint?: readonly string[] | undefined;
  command?: string | undefined;
  args?: readonly string[] | undefined;
  env: Readonly<Record<string, string>>;
  user: string;
  /** The replica's own internal network (see `createReplicaNetwork`). */
  network: string;
  cpuCores: number;
  memMiB: number;
  pidsLimit: number;
  tmpfsMiB: number;
  gpuMode: "nvidia" | "cdi" | "none";
  gpuUuids: readonly string[];
  imageVolumes: readonly string[];
}

/**
 * A replica's container: a job container's lockdown (`containerSpec`: numeric non-root user, no
 * capabilities, no-new-privileges, read-only root, CPU, memory and pids limits, only its GPUs) with
 * three changes for a server: it is on its own internal network rather than none (so the proxy can
 * reach its port; nothing routes out of it), no port is published on the host, and `/work` is a
 * small tmpfs rather than a folder of the host (a replica keeps nothing).
 */
export function replicaContainerSpec(p: ReplicaContainerSpecParameters): Docker.ContainerCreateOptions {
  const base = containerSpec({
    jobId: p.replicaId,
    nodeLabel: p.nodeLabel,
    imageId: p.imageId,
    imageReference: p.imageReference,
    entrypoint: p.entrypoint,
    command: p.command ?? "-",
    args: p.args ?? [],
    env: p.env,
    // Replaced below by a tmpfs: no host folder is mounted.
    workDir: CONTAINER_WORK_DIR,
    user: p.user,
    network: "none",
    limits: { cpuCores: p.cpuCores, memMiB: p.memMiB },
    pidsLimit: p.pidsLimit,
    tmpfsMiB: p.tmpfsMiB,
    gpuMode: p.gpuMode,
    gpuUuids: p.gpuUuids,
    imageVolumes: p.imageVolumes,
  });
  const { Cmd, HostConfig, Labels, ...rest } = base;
  const mounts = (HostConfig?.Mounts ?? []).map((mount) =>
    mount.Target === CONTAINER_WORK_DIR
      ? {
          Type: "tmpfs" as const,
          Source: "",
          Target: CONTAINER_WORK_DIR,
          TmpfsOptions: { SizeBytes: p.tmpfsMiB * MIB, Mode: 0o1777 },
        }
      : mount,
  );
  return {
    ...rest,
    ...(p.command === undefined ? {} : { Cmd }),
    Labels: { ...Labels, [ENDPOINT_LABEL]: p.endpointId, [REPLICA_LABEL]: p.replicaId },
    AttachStdout: false,
    AttachStderr: false,
    HostConfig: {
      ...HostConfig,
      NetworkMode: p.network,
      Mounts: mounts,
      PortBindings: {},
      PublishAllPorts: false,
    },
  };
}
