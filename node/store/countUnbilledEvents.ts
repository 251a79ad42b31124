import type { Store } from "../../marketplace/store/openStore.ts";

/** How many of a job's usage events no debit note covers yet. */
export function countUnbilledEvents(store: Store, jobId: string): number {
  const row = store.db
    .prepare("SELECT COUNT(*) AS n FROM usage_events WHERE job_id = ? AND note_seq IS NULL")
    .get(jobId) as { n: number | bigint };
  return Number(row.n);
}
