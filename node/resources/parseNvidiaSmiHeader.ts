/** The versions in the header of plain `nvidia-smi`'s table. */
export interface NvidiaSmiHeader {
  driverVersion: string | null;
  /** The highest CUDA version the driver supports, e.g. "12.4"; null when the header shows none. */
  cudaVersion: string | null;
}

/**
 * Reads `Driver Version: 550.54.15` and `CUDA Version: 12.4` from the header of plain `nvidia-smi`
 * (the table): the query interface has no field for the CUDA version on older drivers.
 */
export function parseNvidiaSmiHeader(table: string): NvidiaSmiHeader {
  const driver = /Driver Version:\s*(\d+(?:\.\d+)+)/.exec(table);
  const cuda = /CUDA Version:\s*(\d+(?:\.\d+)+)/.exec(table);
  return { driverVersion: driver?.[1] ?? null, cudaVersion: cuda?.[1] ?? null };
}
