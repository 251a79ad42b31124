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
