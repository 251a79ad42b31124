/** The nvidia-smi query detectResources runs (and the test fixture answers). */
export const NVIDIA_SMI_QUERY_ARGS = [
  "--query-gpu=index,uuid,name,memory.total,driver_version",
  "--format=csv,noheader,nounits",
] as const;

/** Per-process GPU memory, sampled each meter interval for jobs with GPUs. */
export const NVIDIA_SMI_COMPUTE_APPS_ARGS = [
  "--query-compute-apps=pid,gpu_uuid,used_memory",
  "--format=csv,noheader,nounits",
] as const;

/** Per-GPU utilization and memory in use, sampled each meter interval for jobs with GPUs. */
export const NVIDIA_SMI_UTILIZATION_ARGS = [
  "--query-gpu=index,uuid,utilization.gpu,memory.used",
  "--format=csv,noheader,nounits",
] as const;

/** nvidia-smi can hang on a wedged driver; give up after this long. */
export const NVIDIA_SMI_TIMEOUT_MS = 10_000;

/**
 * A metering sample gives up on nvidia-smi sooner: a hung driver must not hold back the job's other
 * meters for long (the sample is skipped, see createGpuUsageSource).
 */
export const NVIDIA_SMI_SAMPLE_TIMEOUT_MS = 5_000;

/** nvidia-smi's exit code for "No devices were found": a working driver with no GPU, not a failure. */
export const NVIDIA_SMI_EXIT_NO_DEVICES = 6;

/** Words in GPU product names that say nothing about the model (brands, form factors, memory). */
export const GPU_NAME_NOISE = new Set([
  "nvidia",
  "geforce",
  "tesla",
  "quadro",
  "pcie",
  "sxm",
  "sxm2",
  "sxm3",
  "sxm4",
  "sxm5",
  "nvl",
  "hbm2",
  "hbm2e",
  "hbm3",
  "hbm3e",
  "gddr6",
  "gddr6x",
  "gpu",
  "generation",
]);
