import { z } from "zod";
import { endpointTerms } from "./endpoint.ts";
import {
  address,
  gpuClass,
  granularity,
  id,
  meter,
  peerIdText,
  pricing,
  rate,
  suspendedSeconds,
  uint,
} from "./primitives.ts";

/**
 * The terms both sides sign after an Accept. The provider holds the capacity for it until the job
 * starts or `startBy` passes.
 */
export const agreement = z.object({
  jobId: id,
  orderId: id,
  submitter: address,
  submitterPeerId: peerIdText,
  provider: address,
  providerPeerId: peerIdText,
  escrow: address,
  gpuClass: gpuClass.optional(),
  gpus: z.number().int().min(0).max(64),
  cpuCores: z.number().int().min(1),
  memMiB: z.number().int().min(1),
  maxDurationS: z.number().int().min(1),
  rates: z.array(rate).min(1).max(16),
  /** In a spot agreement, the most each rate may rise to. Equal to `rates` in a fixed one. */
  maxRates: z.array(rate).min(1).max(16),
  pricing,
  granularity,
  /**
   * The least this job costs, in token base units: every debit note bills
   * `max(rated total, minimumCharge)`, from the first note on. It belongs to the rate card with
   * `rates` and `granularity`; absent means no minimum.
   */
  minimumCharge: uint.optional(),
  /**
   * Meters whose usage the provider takes from reports rather than its own measurement (the job's
   * usage file, `POST /v1/usage`): `selfReportedMeters(rates)`. Usage reported for any other meter is
   * refused; absent means none.
   */
  selfReported: z.array(meter).max(8).optional(),
  receiptIntervalMs: z.number().int().min(200).max(3_600_000),
  /** Receipt intervals without a voucher before the provider suspends the job. */
  graceIntervals: z.number().int().min(1).max(10),
  /**
   * How long a job suspended for want of vouchers stays suspended (its processes stopped, nothing
   * billed) before the provider ends it: the order's `maxSuspendedS` bounded by the operator's
   * `limits.maxSuspendedS`. The payer's agent may attach again meanwhile and the job resumes. Absent:
   * one more grace period.
   */
  maxSuspendedS: suspendedSeconds.optional(),
  /** An endpoint's terms (DESIGN §12); absent for a batch job. */
  endpoint: endpointTerms.optional(),
  /** Unix seconds: the job must start by then or the capacity is released. */
  startBy: z.number().int().positive(),
});
export type Agreement = z.infer<typeof agreement>;
