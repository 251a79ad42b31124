import type { Meter } from "../../marketplace/rating/meters.ts";

/**
 * One measured amount of usage (DESIGN.md §5). `id` is `${jobId}:${meter}:${seq}`, deterministic
 * per logical event, so storing a retried event is a no-op.
 */
export interface UsageEvent {
  id: string;
  jobId: string;
  /** Who measured it: `"node"` for the provider's own meters. */
  source: string;
  meter: Meter;
  /** Non-negative, in the meter's unit (see `METERS`). */
  quantity: bigint;
  /** Wall-clock time of the measurement, epoch milliseconds. */
  time: number;
  /** For `gpu_ms`: the class of the GPUs measured, when known. */
  gpuClass?: string;
}
