import type { Meter } from "../../marketplace/rating/meters.ts";
import { StoreError } from "../../marketplace/store/errors.ts";
import type { Store } from "../../marketplace/store/openStore.ts";

/**
 * Cumulative usage of a job per meter, billed and unbilled together: the input of `rateUsage`.
 * Meters with no events are absent.
 * @throws StoreError if a total exceeds 2^63 − 1 (SQLite refuses to wrap).
 */
export function usageTotals(store: Store, jobId: string): Partial<Record<Meter, bigint>> {
  const statement = store.db.prepare(
    "SELECT meter, SUM(quantity) AS total FROM usage_events WHERE job_id = ? GROUP BY meter ORDER BY meter",
  );
  statement.setReadBigInts(true);
  let rows: { meter: Meter; total: bigint }[];
  try {
    rows = statement.all(jobId) as typeof rows;
  } catch (error) {
    throw new StoreError(`usage totals of job ${jobId} do not fit in 64 bits`, { jobId }, error);
  }
  return Object.fromEntries(rows.map((r) => [r.meter, r.total]));
}
