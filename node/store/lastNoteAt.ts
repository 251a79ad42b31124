import type { Store } from "../../marketplace/store/openStore.ts";

/** When the job's newest debit note was cut (epoch ms), or undefined before its first note. */
export function lastNoteAt(store: Store, jobId: string): number | undefined {
  const row = store.db.prepare("SELECT MAX(created_at) AS at FROM debit_notes WHERE job_id = ?").get(jobId) as
    | { at: number | bigint | null }
    | undefined;
  return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
}
