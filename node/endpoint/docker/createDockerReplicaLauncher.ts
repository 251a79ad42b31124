import type Docker from "dockerode";
import {
  DEFAULT_DOCKER_USER,
  DEFAULT_IMAGE_POLICY,
  DOCKER_CALL_TIMEOUT_MS,
  NODE_LABEL,
} from "../../run/docker/constants.ts";
import type { ImagePolicy } from "../../run/docker/imagePolicy.ts";
import { parseDockerUser } from "../../run/docker/parseDockerUser.ts";
import { resolveImage } from "../../run/docker/resolveImage.ts";
import { REPLICA_STOP_GRACE_MS } from "../constants.ts";
import { EndpointError } from "../errors.ts";
import type { ReplicaInstance, ReplicaLauncher } from "../types.ts";
import {
  DEFAULT_REPLICA_CPU_CORES,
  DEFAULT_REPLICA_MEM_MIB,
  DEFAULT_REPLICA_PIDS,
  DEFAULT_REPLICA_PORT,
  DEFAULT_REPLICA_TMPFS_MIB,
  ENDPOINT_LABEL,
  REPLICA_LABEL,
  REPLICA_NETWORK_PREFIX,
} from "./constants.ts";
import { replicaContainerSpec } from "./replicaContainerSpec.ts";

export type DockerReplicaLauncherComponents = { docker: Docker };

export type CreateDockerReplicaLauncherParameters = {
  endpointId: string;
  /** The provider's address: every container and network is labelled `gridspot.node=<nodeLabel>`. */
  nodeLabel: string;
  image: string;
  /** The port the image serves HTTP on inside the container (default 8000; also given as PORT). */
  port?: number | undefined;
  entrypoint?: readonly string[] | undefined;
  command?: string | undefined;
  args?: readonly string[] | undefined;
  env?: Readonly<Record<string, string>> | undefined;
  /** Numeric `uid:gid`, never root (default nobody). */
  user?: string | undefined;
  cpuCores?: number | undefined;
  memMiB?: number | undefined;
  pids?: number | undefined;
  tmpfsMiB?: number | undefined;
  /** How GPUs reach containers (see the Docker runtime), and which GPUs a replica gets. */
  gpuMode?: "nvidia" | "cdi" | "none" | undefined;
  gpuUuids?: ((replicaId: string) => readonly string[]) | undefined;
  imagePolicy?: ImagePolicy | undefined;
  stopGraceMs?: number | undefined;
};

/**
 * Replicas as Docker containers (DESIGN §10, §12), each locked down like a job container (see
 * `replicaContainerSpec`) and alone on an internal network of its own, made for it and removed with
 * it: no port is published on the host, nothing routes out of the network to the internet or to
 * other containers, and no other container shares it. The provider's proxy reaches the replica at
 * its address on that network. Processes of the provider's host itself could reach it there too
 * (the host's end of the bridge): the host is the provider's own.
 */
export function createDockerReplicaLauncher(
  components: DockerReplicaLauncherComponents,
  parameters: CreateDockerReplicaLauncherParameters,
): ReplicaLauncher {
  const { docker } = components;
  const user = parameters.user ?? DEFAULT_DOCKER_USER;
  parseDockerUser(user);
  const port = parameters.port ?? DEFAULT_REPLICA_PORT;
  const graceS = Math.ceil((parameters.stopGraceMs ?? REPLICA_STOP_GRACE_MS) / 1000);
  const call = () => ({ abortSignal: AbortSignal.timeout(DOCKER_CALL_TIMEOUT_MS) });
  const labels = (replicaId: string) => ({
    [NODE_LABEL]: parameters.nodeLabel,
    [ENDPOINT_LABEL]: parameters.endpointId,
    [REPLICA_LABEL]: replicaId,
  });

  return {
    kind: "docker",
    async start({ replicaId, signal }) {
      signal.throwIfAborted();
      const failed = (what: string, error: unknown) =>
        new EndpointError(
          "replica-failed",
          503,
          `replica ${replicaId}: ${what}: ${(error as Error).message.split("\n")[0]}`,
          {
            cause: error,
          },
        );
      const image = await resolveImage(docker, {
        reference: parameters.image,
        policy: parameters.imagePolicy ?? DEFAULT_IMAGE_POLICY,
      }).catch((error: unknown) => {
        throw failed(`image ${parameters.image}`, error);
      });
      const networkName = `${REPLICA_NETWORK_PREFIX}${replicaId}`;
      const network = await docker
        .createNetwork({
          Name: networkName,
          Driver: "bridge",
          Internal: true,
          CheckDuplicate: true,
          Labels: labels(replicaId),
          Options: { "com.docker.network.bridge.enable_ip_masquerade": "false" },
        })
        .catch((error: unknown) => {
          throw failed("cannot create its network", error);
        });
      let container: Docker.Container | undefined;
      const removeAll = async () => {
        if (container !== undefined) {
          await container.remove({ force: true, ...call() }).catch(() => {});
        }
        await network.remove(call()).catch(() => {});
      };
      try {
        container = await docker.createContainer({
          name: `gridspot-${replicaId}`,
          ...replicaContainerSpec({
            replicaId,
            endpointId: parameters.endpointId,
            nodeLabel: parameters.nodeLabel,
            imageId: image.id,
            imageReference: parameters.image,
            entrypoint: parameters.entrypoint,
            command: parameters.command,
            args: parameters.args,
            env: { ...parameters.env, PORT: String(port) },
            user,
            network: networkName,
            cpuCores: parameters.cpuCores ?? DEFAULT_REPLICA_CPU_CORES,
            memMiB: parameters.memMiB ?? DEFAULT_REPLICA_MEM_MIB,
            pidsLimit: parameters.pids ?? DEFAULT_REPLICA_PIDS,
            tmpfsMiB: parameters.tmpfsMiB ?? DEFAULT_REPLICA_TMPFS_MIB,
            gpuMode: parameters.gpuMode ?? "none",
            gpuUuids: parameters.gpuUuids?.(replicaId) ?? [],
            imageVolumes: image.volumes,
          }),
        });
        await container.start(call());
        const info = await container.inspect(call());
        const address = info.NetworkSettings.Networks[networkName]?.IPAddress;
        if (address === undefined || address === "") {
          throw new Error(`the container has no address on ${networkName}`);
        }
        const started = container;
        const exited = started.wait().then(
          async (result: { StatusCode?: number }) => {
            const state = await started.inspect(call()).then(
              (i) => i.State,
              () => undefined,
            );
            return state?.OOMKilled === true
              ? "was killed for using more memory than its limit"
              : `exited with code ${result.StatusCode ?? "?"}`;
          },
          (error: Error) => `is gone (${error.message.split("\n")[0]})`,
        );
        let stopping: Promise<void> | undefined;
        const instance: ReplicaInstance = {
          id: replicaId,
          address: { host: address, port },
          exited,
          stop() {
            stopping ??= (async () => {
              await started.stop({ t: graceS, ...call() }).catch(() => {});
              await removeAll();
            })();
            return stopping;
          },
        };
        return instance;
      } catch (error) {
        await removeAll();
        throw failed("cannot start its container", error);
      }
    },
  };
}
