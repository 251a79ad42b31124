/** One GPU as reported by nvidia-smi. */
export interface GpuInfo {
  /** nvidia-smi's index (PCI bus order): the number to put in CUDA_VISIBLE_DEVICES. */
  index: number;
  uuid: string;
  /** The product name as the driver reports it, e.g. "NVIDIA H100 80GB HBM3". */
  name: string;
  /** `vendor-model-vram`, e.g. `nvidia-h100-80gb` (DESIGN.md §4). */
  class: string;
  vramMiB: number;
  driverVersion: string;
}

/** What this machine can offer. */
export interface NodeResources {
  cpuCores: number;
  memMiB: number;
  gpus: GpuInfo[];
}

/** One process's use of one GPU (`nvidia-smi --query-compute-apps`). */
export interface GpuComputeApp {
  /** Host pid (nvidia-smi reports pids of the host's namespace). */
  pid: number;
  gpuUuid: string;
  /** undefined when nvidia-smi prints `[N/A]`. */
  usedMemoryMiB: bigint | undefined;
}

/** One GPU's activity now (`nvidia-smi --query-gpu=index,uuid,utilization.gpu,memory.used`). */
export interface GpuUtilization {
  index: number;
  uuid: string;
  /** 0–100; undefined when nvidia-smi cannot tell (`[N/A]`). */
  utilizationPercent: bigint | undefined;
  memoryUsedMiB: bigint | undefined;
}

/** What the GPU preflight found at start (DESIGN.md §7): shown in the log and in GET /v1/status. */
export interface GpuPreflight {
  /** The command that was run. */
  nvidiaSmi: string;
  /** `ok`: GPUs found; `missing`: no nvidia-smi; `no-devices`: driver without GPUs. */
  state: "ok" | "missing" | "no-devices";
  driverVersion: string | null;
  /** From the table header, `CUDA Version: X.Y`; null when the header shows none. */
  cudaVersion: string | null;
  gpuCount: number;
  /** GPUs per class, e.g. `{ "nvidia-h100-80gb": 2 }`. */
  classes: Record<string, number>;
  gpus: { index: number; uuid: string; name: string; class: string; vramMiB: number }[];
}
