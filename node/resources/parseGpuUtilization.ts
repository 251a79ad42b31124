import { ResourceDetectionError } from "./errors.ts";
import type { GpuUtilization } from "./types.ts";

/**
 * Parses `nvidia-smi --query-gpu=index,uuid,utilization.gpu,memory.used --format=csv,noheader,nounits`:
 * one line per GPU. `utilization.gpu` is the percentage of the last sample period (1/6 s to 1 s,
 * by product) in which a kernel ran. A bracketed figure (`[N/A]`, `[Not Supported]`, as MIG
 * devices print) comes back as undefined.
 * @throws ResourceDetectionError quoting the first line that does not have that shape.
 */
export function parseGpuUtilization(output: string): GpuUtilization[] {
  const gpus: GpuUtilization[] = [];
  for (const line of output.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const fields = line.split(",").map((f) => f.trim());
    const [index, uuid, utilization, memory] = fields;
    const bad = (problem: string) =>
      new ResourceDetectionError(
        `unexpected nvidia-smi utilization line ${JSON.stringify(line)}: ${problem}`,
        { line },
      );
    if (fields.length !== 4 || index === undefined || uuid === undefined) {
      throw bad(`expected 4 comma-separated fields, got ${fields.length}`);
    }
    if (!/^\d+$/.test(index)) throw bad("index is not a number");
    if (!/^(GPU|MIG)-[0-9a-fA-F-]+$/.test(uuid)) throw bad("uuid is not a GPU uuid");
    const figure = (value: string | undefined, name: string, max?: bigint): bigint | undefined => {
      if (value !== undefined && /^\d+$/.test(value)) {
        const n = BigInt(value);
        if (max !== undefined && n > max) throw bad(`${name} ${value} is above ${max}`);
        return n;
      }
      if (value !== undefined && /^\[.*\]$/.test(value)) return undefined;
      throw bad(`${name} is not a number`);
    };
    gpus.push({
      index: Number(index),
      uuid,
      utilizationPercent: figure(utilization, "utilization.gpu", 100n),
      memoryUsedMiB: figure(memory, "memory.used"),
    });
  }
  return gpus;
}
