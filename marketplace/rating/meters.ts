/**
 * The usage meters of DESIGN.md §5, the one list every schema and store uses. Quantities are
 * integers in each meter's own unit: `gpu_ms` GPU-milliseconds (allocated GPUs × wall time),
 * `cpu_core_ms` measured CPU milliseconds, `mem_mib_ms` MiB × milliseconds of resident memory,
 * `egress_bytes` bytes, `requests` and `tokens` counts. Measured beside the allocation (from
 * nvidia-smi, observed rather than billed unless a rate names them): `gpu_util_ms` GPU-milliseconds
 * weighted by utilization (a GPU at 50 % for 1 s counts 500) and `gpu_mem_mib_ms` MiB × milliseconds
 * of GPU memory held by the job's processes.
 */
export const METERS = [
  "gpu_ms",
  "cpu_core_ms",
  "mem_mib_ms",
  "egress_bytes",
  "requests",
  "tokens",
  "gpu_util_ms",
  "gpu_mem_mib_ms",
] as const;

/** One of {@link METERS}. */
export type Meter = (typeof METERS)[number];

/**
 * Meters whose unit is milliseconds (times a resource): the agreement's billing granularity rounds
 * these up; counts and bytes are never rounded.
 */
export const TIME_METERS: readonly Meter[] = [
  "gpu_ms",
  "cpu_core_ms",
  "mem_mib_ms",
  "gpu_util_ms",
  "gpu_mem_mib_ms",
];

/** True when `name` is a known meter. */
export function isMeter(name: string): name is Meter {
  return (METERS as readonly string[]).includes(name);
}
