import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { ContainerCgroups } from "./findContainerCgroups.ts";

/** A container's usage and pids-limit counter, read from its cgroup files on the host. */
export interface CgroupUsage {
  /** Cumulative CPU time, ms. */
  cpuMs: bigint;
  /** Memory in use without reclaimable page cache (usage − inactive file), KiB. */
  memKiB: bigint;
  pids: number;
  hostPids: number[];
  /** How often a fork or clone failed on the pids limit (`pids.events` `max`). */
  pidsLimitHits: number;
}

/**
 * Reads a container's cgroup counters directly (a few small files, well under a millisecond; the
 * Engine's one-shot stats wait for its 1 s collector tick). Memory is counted like `docker stats`:
 * usage minus inactive file cache (`total_inactive_file` on v1, `inactive_file` on v2), so tmpfs
 * files and active memory count, cache the kernel can drop does not. Undefined once the cgroup is
 * gone (the container stopped).
 */
export async function readCgroupUsage(cgroups: ContainerCgroups): Promise<CgroupUsage | undefined> {
  const { cpu, memory, pids } = cgroups;
  const read = (dir: string | undefined, file: string) =>
    dir === undefined ? Promise.resolve(undefined) : readFile(join(dir, file), "utf8").catch(() => undefined);
  const [cpuText, memText, memStat, pidsText, pidsEvents, procs] = await Promise.all([
    read(cpu?.dir, cpu?.v2 ? "cpu.stat" : "cpuacct.usage"),
    read(memory?.dir, memory?.v2 ? "memory.current" : "memory.usage_in_bytes"),
    read(memory?.dir, "memory.stat"),
    read(pids?.dir, "pids.current"),
    read(pids?.dir, "pids.events"),
    read(pids?.dir ?? memory?.dir ?? cpu?.dir, "cgroup.procs"),
  ]);
  if (cpuText === undefined && memText === undefined && pidsText === undefined) return undefined;

  const cpuMs =
    cpuText === undefined
      ? 0n
      : cpu?.v2
        ? (keyed(cpuText, "usage_usec") ?? 0n) / 1_000n
        : toBigInt(cpuText.trim()) / 1_000_000n;
  const usage = memText === undefined ? 0n : toBigInt(memText.trim());
  const inactive =
    (memStat === undefined
      ? undefined
      : keyed(memStat, memory?.v2 ? "inactive_file" : "total_inactive_file")) ?? 0n;
  const memBytes = inactive < usage ? usage - inactive : usage;
  return {
    cpuMs,
    memKiB: memBytes / 1024n,
    pids: pidsText === undefined ? 0 : Number(pidsText.trim()) || 0,
    hostPids: (procs ?? "")
      .split("\n")
      .filter((line) => line !== "")
      .map(Number),
    pidsLimitHits: Number((pidsEvents === undefined ? undefined : keyed(pidsEvents, "max")) ?? 0n),
  };
}

/** The value of `key` in a flat-keyed cgroup file (`key value` per line). */
function keyed(text: string, key: string): bigint | undefined {
  for (const line of text.split("\n")) {
    const [name, value] = line.split(" ");
    if (name === key && value !== undefined) return toBigInt(value);
  }
  return undefined;
}

function toBigInt(text: string): bigint {
  return /^\d+$/.test(text) ? BigInt(text) : 0n;
}
