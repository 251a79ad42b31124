import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Store } from "../../marketplace/store/openStore.ts";
import { withTransaction } from "../../marketplace/store/withTransaction.ts";
import type { UsageEvent } from "../meter/types.ts";
import { validateUsageEvent } from "./validateUsageEvent.ts";

/** Which events of a batch were new and which had been stored before (or earlier in the batch). */
export interface InsertUsageEventsResult {
  inserted: string[];
  duplicates: string[];
}

// One prepared INSERT per connection, reused by every batch (a closed connection's entry goes with it).
const statements = new WeakMap<DatabaseSync, StatementSync>();

function insertStatement(db: DatabaseSync): StatementSync {
  let statement = statements.get(db);
  if (statement === undefined) {
    statement = db.prepare(
      `INSERT OR IGNORE INTO usage_events (id, job_id, source, meter, quantity, time, gpu_class)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    statements.set(db, statement);
  }
  return statement;
}

/**
 * Stores a batch of usage events in one transaction. The event's id is its own seen-marker (the
 * PRIMARY KEY), so an event counts once however often it is delivered: a repeated id is reported in
 * `duplicates` and the first stored version is kept. Duplicates never reject the batch. Ids stay
 * for good: events are never deleted, so an id seen once is a duplicate forever.
 *
 * The transaction commits with the store's durability (WAL, synchronous=FULL: one fsync per batch),
 * which is why callers batch: a batch costs about as much as a single event.
 * @throws StoreError when any event is invalid; nothing from the batch is written then.
 */
export function insertUsageEvents(store: Store, events: readonly UsageEvent[]): InsertUsageEventsResult {
  for (const event of events) validateUsageEvent(event);
  const result: InsertUsageEventsResult = { inserted: [], duplicates: [] };
  if (events.length === 0) return result;
  const insert = insertStatement(store.db);
  return withTransaction(store.db, () => {
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
      (changes === 1 || changes === 1n ? result.inserted : result.duplicates).push(e.id);
    }
    return result;
  });
}
