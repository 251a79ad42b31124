import type { Agreement } from "../messages/agreement.ts";
import type { Meter } from "../messages/primitives.ts";
import { replicaShare } from "../order/replicaShare.ts";
import { RatingError } from "../rating/errors.ts";

/** What an endpoint agreement bills its replicas' busy time as, and how much of it is due. */
export type EndpointBusyMeter = {
  /** `gpu_ms` for replicas with GPUs; `cpu_core_ms` for CPU-only replicas. */
  meter: Extract<Meter, "gpu_ms" | "cpu_core_ms">;
  /** One replica's busy (or warm) millisecond bills this many units of `meter`: its GPUs, else its cores. */
  perReplica: bigint;
  /** `busyMs` × `perReplica`: what the busy periods bill. */
  busy: bigint;
  /** `minReplicas` × `perReplica` × `runningMs`: what the warm replicas the payer asked for bill at least. */
  warmFloor: bigint;
  /** The cumulative quantity due on `meter`: max(busy, warmFloor). */
  quantity: bigint;
};

/** Options of {@link endpointBusyMeter}: cumulative amounts, both in milliseconds. */
export type EndpointBusyUsage = {
  /**
   * The replicas' busy time so far at the agreement's granularity, in replica-ms (each busy period
   * rounded up on its own, summed over all replicas: a proxy's or gateway's
   * `UsageSnapshot.billableMs[granularity]`), leaving out what fell in suspended stretches.
   */
  busyMs: bigint;
  /** Time the endpoint has been served and not suspended since its start. */
  runningMs: bigint;
};

/**
 * How an endpoint agreement bills time (DESIGN §12), the one rule the provider's meter and the
 * payer's check both apply:
 * - a replica with GPUs bills `gpu_ms` = its busy ms × its GPUs; a CPU-only replica bills
 *   `cpu_core_ms` = its busy ms × its CPU cores instead (no `gpu_ms`). A replica's share is
 *   `replicaShare(agreement, maxReplicas)`. Memory is not billed by time.
 * - warm replicas the payer asked for (`minReplicas`) bill as allocated: never less than
 *   `minReplicas × perReplica × runningMs` (time not suspended since the start). The quantity is
 *   `max(busy, warm floor)`, cumulative, so busy time within the warm floor is not billed twice.
 *   With `minReplicas` 0 nothing idle and no cold start is billed.
 * `requests` and `tokens` bill as counted, one each.
 * @throws RatingError when the agreement is not an endpoint's, or its resources do not divide
 *   evenly among its replicas (no provider bids on such an order).
 */
export function endpointBusyMeter(
  agreement: Pick<Agreement, "gpus" | "cpuCores" | "memMiB" | "maxDurationS" | "endpoint">,
  usage: EndpointBusyUsage = { busyMs: 0n, runningMs: 0n },
): EndpointBusyMeter {
  const terms = agreement.endpoint;
  if (terms === undefined) throw new RatingError("not an endpoint agreement");
  const share = replicaShare(agreement, terms.maxReplicas);
  if (typeof share === "string") throw new RatingError(share, { maxReplicas: terms.maxReplicas });
  const meter = share.gpus > 0 ? "gpu_ms" : "cpu_core_ms";
  const perReplica = BigInt(share.gpus > 0 ? share.gpus : share.cpuCores);
  const busy = usage.busyMs * perReplica;
  const warmFloor = BigInt(terms.minReplicas) * perReplica * usage.runningMs;
  return { meter, perReplica, busy, warmFloor, quantity: busy > warmFloor ? busy : warmFloor };
}
