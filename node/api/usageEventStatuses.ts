import type { UsageEventStatus } from "../../marketplace/messages/usage.ts";
import type { UsageEvent } from "../meter/types.ts";
import type { InsertUsageEventsResult } from "../store/insertUsageEvents.ts";

/**
 * Per event, in the batch's order: `inserted` for the occurrence that was stored, `duplicate` for
 * an id stored before or repeated earlier in the same batch (only its first occurrence can be new).
 */
export function usageEventStatuses(
  events: readonly UsageEvent[],
  result: InsertUsageEventsResult,
): UsageEventStatus[] {
  const fresh = new Set(result.inserted);
  return events.map((e) => {
    const inserted = fresh.delete(e.id);
    return { id: e.id, status: inserted ? "inserted" : "duplicate" };
  });
}
