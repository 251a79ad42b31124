import { NODE_SOURCE } from "./constants.ts";
import type { UsageEvent, UsageSource } from "./types.ts";

/** Counts bytes sent to the submitter for one job; a {@link UsageSource} of `egress_bytes`. */
export interface EgressCounter extends UsageSource {
  /** Counts bytes handed to the submitter's stream (log payloads, output files). */
  add(bytes: number): void;
  /** An event for the bytes counted since the last flush (none if 0). */
  flush(timeMs: number): UsageEvent[];
  /** Σ bytes counted so far. */
  total(): bigint;
}

/**
 * `egress_bytes` for a job: the payload bytes the provider sends the submitter (each log frame's
 * bytes before base64, each output file's bytes). Counted as they are sent and turned into one
 * event per flush, at each meter sample and once more before the final debit note.
 *
 * Ids: `${jobId}:egress_bytes:${n}`, n counting the flushes that had bytes: each event is built
 * once, so retrying its insert can never count it twice.
 */
export function createEgressCounter(options: { jobId: string }): EgressCounter {
  let pending = 0n;
  let total = 0n;
  let n = 0;
  const flush = (timeMs: number): UsageEvent[] => {
    if (pending === 0n) return [];
    const event: UsageEvent = {
      id: `${options.jobId}:egress_bytes:${n++}`,
      jobId: options.jobId,
      source: NODE_SOURCE,
      meter: "egress_bytes",
      quantity: pending,
      time: timeMs,
    };
    pending = 0n;
    return [event];
  };
  return {
    name: "egress",
    add(bytes) {
      if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`bad byte count ${bytes}`);
      pending += BigInt(bytes);
      total += BigInt(bytes);
    },
    flush,
    total: () => total,
    collect: (observation) => flush(observation.timeMs),
  };
}
