import type { UsageEvent } from "../../marketplace/messages/usage.ts";

/** One measured amount of usage (DESIGN.md §5): the schema `usageEvent` says what one is. */
export type { UsageEvent };

/** The moment of one metering sample, as the job meter hands it to each {@link UsageSource}. */
export interface MeterObservation {
  /** 0-based number of the sample: the `seq` of the ids of the events it produces. */
  seq: number;
  /** Monotonic clock, ms. */
  monoMs: bigint;
  /** Wall clock for the events' `time`, epoch ms. */
  timeMs: number;
  /** Live pids of the job's process tree now (host pids); empty once the job is gone. */
  pids: readonly number[];
  /** The job was suspended during the interval that ends here: its time is not billed. */
  paused: boolean;
}

/**
 * More usage measured at each sample of a job meter, beside CPU, memory and allocated GPU time
 * (GPU utilization, egress bytes, the job's own requests and tokens). Its events are stored in the
 * same transaction as the sample's; a source that throws loses only its own events of that sample.
 */
export interface UsageSource {
  /** For logs. */
  readonly name: string;
  /** Called once when the meter starts, with the baseline of the monotonic clock. */
  start?(monoMs: bigint): void;
  collect(observation: MeterObservation): UsageEvent[] | Promise<UsageEvent[]>;
}
