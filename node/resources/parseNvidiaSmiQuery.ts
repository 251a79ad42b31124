import { ResourceDetectionError } from "./errors.ts";
import { gpuClass } from "./gpuClass.ts";
import type { GpuInfo } from "./types.ts";

/**
 * Parses the output of `nvidia-smi --query-gpu=index,uuid,name,memory.total,driver_version
 * --format=csv,noheader,nounits`: one line per GPU, fields separated by ", ".
 * @throws ResourceDetectionError quoting the first line that does not have that shape.
 */
export function parseNvidiaSmiQuery(output: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of output.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const fields = line.split(",").map((f) => f.trim());
    const [index, uuid, name, memory, driverVersion] = fields;
    const bad = (problem: string) =>
      new ResourceDetectionError(`unexpected nvidia-smi output line ${JSON.stringify(line)}: ${problem}`, {
        line,
      });
    if (fields.length !== 5 || index === undefined || uuid === undefined || name === undefined) {
      throw bad(`expected 5 comma-separated fields, got ${fields.length}`);
    }
    if (!/^\d+$/.test(index)) throw bad("index is not a number");
    if (!/^(GPU|MIG)-[0-9a-fA-F-]+$/.test(uuid)) throw bad("uuid is not a GPU uuid");
    if (name === "") throw bad("empty name");
    if (memory === undefined || !/^\d+$/.test(memory)) throw bad("memory.total is not a number of MiB");
    if (driverVersion === undefined || !/^\d+(\.\d+)+$/.test(driverVersion)) throw bad("bad driver version");
    const vramMiB = Number(memory);
    gpus.push({ index: Number(index), uuid, name, class: gpuClass(name, vramMiB), vramMiB, driverVersion });
  }
  return gpus;
}
