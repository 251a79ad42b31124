import type { Requirements } from "../messages/order.ts";

/** One replica's share of an endpoint order's requirements. */
export type ReplicaShare = { gpus: number; cpuCores: number; memMiB: number };

/**
 * What each replica of an endpoint gets: the order's requirements (for all `maxReplicas`) divided
 * evenly; a string in words when they do not divide (the bid engine declines such an order, and
 * the CLI never makes one: it multiplies a replica's resources by the replicas).
 */
export function replicaShare(requirements: Requirements, maxReplicas: number): ReplicaShare | string {
  const { gpus, cpuCores, memMiB } = requirements;
  const uneven = [
    ["GPUs", gpus],
    ["CPU cores", cpuCores],
    ["MiB of memory", memMiB],
  ].filter(([, n]) => (n as number) % maxReplicas !== 0);
  if (uneven.length > 0) {
    const list = uneven.map(([what, n]) => `${n} ${what}`).join(", ");
    return `${list} do not divide evenly among ${maxReplicas} replicas`;
  }
  return { gpus: gpus / maxReplicas, cpuCores: cpuCores / maxReplicas, memMiB: memMiB / maxReplicas };
}
