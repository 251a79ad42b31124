import { ResourceDetectionError } from "./errors.ts";
import type { GpuComputeApp } from "./types.ts";

const UUID = /^(GPU|MIG)-[0-9a-fA-F-]+$/;

/**
 * Parses `nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory --format=csv,noheader,nounits`:
 * one line per process and GPU (a process on two GPUs has two lines), fields separated by ", ";
 * nothing at all when no process uses a GPU. Older drivers print "No running processes found".
 *
 * nvidia-smi prints `[N/A]` (or `[Insufficient Permissions]`, `[Not Supported]`) where it cannot
 * tell: such a memory figure comes back as undefined, and a row without a numeric pid is dropped,
 * since it cannot be attributed to any job.
 * @throws ResourceDetectionError quoting the first line that does not have the shape at all.
 */
export function parseComputeApps(output: string): GpuComputeApp[] {
  const apps: GpuComputeApp[] = [];
  for (const line of output.split(/\r?\n/)) {
    if (line.trim() === "" || /no running processes found/i.test(line)) continue;
    const fields = line.split(",").map((f) => f.trim());
    const [pid, gpuUuid, memory] = fields;
    const bad = (problem: string) =>
      new ResourceDetectionError(
        `unexpected nvidia-smi compute-apps line ${JSON.stringify(line)}: ${problem}`,
        { line },
      );
    if (fields.length !== 3 || pid === undefined || gpuUuid === undefined || memory === undefined) {
      throw bad(`expected 3 comma-separated fields, got ${fields.length}`);
    }
    if (!UUID.test(gpuUuid)) throw bad("gpu_uuid is not a GPU uuid");
    if (!/^\d+$/.test(pid)) continue;
    if (/^\d+$/.test(memory)) apps.push({ pid: Number(pid), gpuUuid, usedMemoryMiB: BigInt(memory) });
    else if (/^\[.*\]$/.test(memory)) apps.push({ pid: Number(pid), gpuUuid, usedMemoryMiB: undefined });
    else throw bad("used_memory is not a number of MiB");
  }
  return apps;
}
