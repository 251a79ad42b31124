import type Docker from "dockerode";
import { NODE_LABEL } from "../../run/docker/constants.ts";
import { ENDPOINT_LABEL, REPLICA_LABEL } from "./constants.ts";

/**
 * Removes the replica containers and networks a previous run of this node left (after a crash),
 * except those of `keep`. Returns how many containers it removed.
 */
export async function cleanupReplicaOrphans(
  docker: Docker,
  nodeLabel: string,
  keep: ReadonlySet<string> = new Set(),
): Promise<number> {
  const filters = { label: [`${NODE_LABEL}=${nodeLabel}`, ENDPOINT_LABEL] };
  let removed = 0;
  for (const summary of await docker.listContainers({ all: true, filters })) {
    if (keep.has(summary.Labels[REPLICA_LABEL] ?? "")) continue;
    const gone = await docker
      .getContainer(summary.Id)
      .remove({ force: true })
      .then(
        () => true,
        () => false,
      );
    if (gone) removed += 1;
  }
  for (const network of await docker.listNetworks({ filters })) {
    if (keep.has(network.Labels?.[REPLICA_LABEL] ?? "")) continue;
    await docker
      .getNetwork(network.Id)
      .remove()
      .catch(() => {});
  }
  return removed;
}
