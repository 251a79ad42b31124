import type Docker from "dockerode";
import type { ResourceSample } from "../runtime.ts";

/**
 * Turns the Engine's stats of a container into a {@link ResourceSample} (the fallback when the
 * container's cgroup files are not visible from here): CPU from `cpu_stats.cpu_usage.total_usage`
 * (ns), memory like `docker stats` (usage − inactive file cache), pids from `pids_stats`, and with
 * `egress` the bytes sent on every network (`tx_bytes`). Pure.
 */
export function statsToSample(stats: Docker.ContainerStats, options: { egress: boolean }): ResourceSample {
  const memory = stats.memory_stats ?? {};
  const usage = BigInt(Math.max(0, Math.trunc(memory.usage ?? 0)));
  const memStats = (memory.stats ?? {}) as Record<string, number | undefined>;
  const inactive = BigInt(Math.trunc(memStats.total_inactive_file ?? memStats.inactive_file ?? 0));
  const memBytes = inactive < usage ? usage - inactive : usage;
  const sample: ResourceSample = {
    cpuMs: BigInt(Math.trunc(stats.cpu_stats?.cpu_usage?.total_usage ?? 0)) / 1_000_000n,
    memKiB: memBytes / 1024n,
    pids: stats.pids_stats?.current ?? 0,
    hostPids: [],
  };
  if (options.egress) {
    let tx = 0n;
    for (const network of Object.values(stats.networks ?? {}))
      tx += BigInt(Math.trunc(network.tx_bytes ?? 0));
    sample.egressBytes = tx;
  }
  return sample;
}
