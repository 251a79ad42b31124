import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { NVIDIA_CONTROL_DEVICES, NVIDIA_PROC_GPUS } from "./constants.ts";

/** What a GPU job's sandbox shows of the host's NVIDIA GPUs. */
export interface GpuSandboxDevices {
  /** Device nodes to bind (when present): the assigned `/dev/nvidia<minor>` and the control devices. */
  devices: string[];
  /** The driver's /proc folders of the GPUs not assigned, masked so the job does not enumerate them. */
  hiddenProcDirs: string[];
}

/**
 * Maps nvidia-smi indices to device nodes. nvidia-smi numbers GPUs in PCI bus order, and the
 * driver's `/proc/driver/nvidia/gpus/<bus id>/information` gives each one's `Device Minor`, which
 * need not match the index; without that folder, `/dev/nvidia<index>` is assumed. No GPUs, no
 * devices (not even the control ones).
 */
export function gpuSandboxDevices(
  indices: readonly number[],
  { procGpusDir = NVIDIA_PROC_GPUS }: { procGpusDir?: string } = {},
): GpuSandboxDevices {
  if (indices.length === 0) return { devices: [], hiddenProcDirs: [] };
  const gpus = readGpus(procGpusDir);
  const assigned = new Set(indices);
  const devices = indices.map((index) => `/dev/nvidia${gpus[index]?.minor ?? index}`);
  const hiddenProcDirs = gpus.filter((_, index) => !assigned.has(index)).map((gpu) => gpu.dir);
  return { devices: [...devices, ...NVIDIA_CONTROL_DEVICES], hiddenProcDirs };
}

function readGpus(procGpusDir: string): { dir: string; minor: number | undefined }[] {
  let busIds: string[];
  try {
    busIds = readdirSync(procGpusDir).sort();
  } catch {
    return [];
  }
  return busIds.map((busId) => {
    const dir = join(procGpusDir, busId);
    try {
      const match = /^Device Minor:\s*(\d+)\s*$/m.exec(readFileSync(join(dir, "information"), "utf8"));
      return { dir, minor: match?.[1] === undefined ? undefined : Number(match[1]) };
    } catch {
      return { dir, minor: undefined };
    }
  });
}
