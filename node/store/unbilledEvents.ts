import type { Meter } from "../../marketplace/rating/meters.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import type { UsageEvent } from "../meter/types.ts";

interface Row {
  id: string;
  job_id: string;
  source: string;
  meter: Meter;
  quantity: bigint;
  time: bigint;
  gpu_class: string | null;
}

/**
 * A job's events not yet covered by a debit note, in the order they were stored (a stable order for
 * hashing them into the next note). Events that arrive after a note was cut land here for the next.
 */
export function unbilledEvents(store: Store, jobId: string): UsageEvent[] {
  const statement = store.db.prepare(
    `SELECT id, job_id, source, meter, quantity, time, gpu_class FROM usage_events
     WHERE job_id = ? AND note_seq IS NULL ORDER BY rowid`,
  );
  statement.setReadBigInts(true);
  return (statement.all(jobId) as unknown as Row[]).map((r) => {
    const event: UsageEvent = {
      id: r.id,
      jobId: r.job_id,
      source: r.source,
      meter: r.meter,
      quantity: r.quantity,
      time: Number(r.time),
    };
    if (r.gpu_class !== null) event.gpuClass = r.gpu_class;
    return event;
  });
}
