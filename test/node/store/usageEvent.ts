import type { Meter } from "../../../marketplace/rating/meters.ts";
import type { UsageEvent } from "../../../node/meter/types.ts";

/** A well-formed usage event for tests. */
export function usageEvent(
  jobId: string,
  meter: Meter,
  seq: number,
  quantity: bigint,
  time = 1_700_000_000_000,
): UsageEvent {
  return { id: `${jobId}:${meter}:${seq}`, jobId, source: "node", meter, quantity, time };
}
