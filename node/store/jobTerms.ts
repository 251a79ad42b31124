import { type Agreement, agreement as agreementSchema } from "../../marketplace/messages/agreement.ts";
import { toJson } from "../../marketplace/messages/json.ts";
import type { Store } from "../../marketplace/store/openStore.ts";

/**
 * Stores the agreement a job runs under (migration 3), once: the first terms written for a job are
 * kept. Reconciliation rates the job's ledger with them.
 */
export function insertJobTerms(store: Store, terms: { jobId: string; agreement: Agreement }): void {
  store.db
    .prepare("INSERT OR IGNORE INTO job_terms (job_id, agreement) VALUES (?, ?)")
    .run(terms.jobId, toJson(terms.agreement));
}

/** The job's agreement, or undefined when none was stored (a job from before migration 3). */
export function getJobTerms(store: Store, jobId: string): Agreement | undefined {
  const row = store.db.prepare("SELECT agreement FROM job_terms WHERE job_id = ?").get(jobId) as
    | { agreement: string }
    | undefined;
  if (row === undefined) return undefined;
  const parsed = agreementSchema.safeParse(JSON.parse(row.agreement));
  return parsed.success ? parsed.data : undefined;
}
