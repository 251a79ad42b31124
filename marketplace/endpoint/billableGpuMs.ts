import { roundUpToGranularity } from "../rating/roundUpToGranularity.ts";
import type { Granularity } from "../rating/types.ts";

/** Options of {@link billableGpuMs}. */
export type BillableGpuMsParameters = {
  /** The agreement's billing granularity. */
  granularity: Granularity;
  /** GPUs each busy replica holds (default 1): a replica's busy millisecond is this many GPU-ms. */
  gpus?: bigint | undefined;
};

/**
 * The GPU-milliseconds an endpoint's busy periods bill (DESIGN §12), the one rule the provider's
 * proxy and the payer's gateway both apply: each busy period (a stretch with at least one request
 * in flight, in whole milliseconds, rounded up from the clock) is rounded up on its own to the
 * granularity with `roundUpToGranularity`, then the periods are summed and multiplied by the GPUs.
 *
 * A model answering in 200 ms, called one request at a time, thus bills 200 GPU-ms per request at
 * `ms`, 1,000 at `s` and 60,000 at `min`; requests that overlap share one period. The sum is
 * additive: billing periods one by one as they close and adding up gives the same total.
 */
export function billableGpuMs(periodsMs: Iterable<bigint>, parameters: BillableGpuMsParameters): bigint {
  let total = 0n;
  for (const period of periodsMs) total += roundUpToGranularity(period, parameters.granularity);
  return total * (parameters.gpus ?? 1n);
}
