import type { Store } from "../../marketplace/store/openStore.ts";
import { withTransaction } from "../../marketplace/store/withTransaction.ts";
import type { UsageEvent } from "../meter/types.ts";
import { validateUsageEvent } from "./validateUsageEvent.ts";

/** Which events of a batch were new and which had been stored before (or earlier in the batch). */
export interface InsertUsageEventsResult {
  inserted: string[];
  duplicates: string[];
}

/**
 * Stores a batch of usage events in one transaction. The event's id is its own seen-marker (the
 * PRIMARY KEY), so an event counts once however often it is delivered: a repeated id is reported in
 * `duplicates` and the first stored version is kept. Duplicates never reject the batch.
 * @throws StoreError when any event is invalid; nothing from the batch is written then.
 */
export function insertUsageEvents(store: Store, events: readonly UsageEvent[]): InsertUsageEventsResult {
  for (const event of events) validateUsageEvent(event);
  const insert = store.db.prepare(
    `INSERT OR IGNORE INTO usage_events (id, job_id, source, meter, quantity, time, gpu_class)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  return withTransaction(store.db, () => {
    const result: InsertUsageEventsResult = { inserted: [], duplicates: [] };
    for (const e of events) {
      const { changes } = insert.run(
        e.id,
        e.jobId,
        e.source,
        e.meter,
        e.quantity,
        e.time,
        e.gpuClass ?? null,
      );
      (Number(changes) === 1 ? result.inserted : result.duplicates).push(e.id);
    }
    return result;
  });
}
