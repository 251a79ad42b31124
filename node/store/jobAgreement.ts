import { StoredAgreementError, storedAgreement } from "../../marketplace/client/storedAgreement.ts";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import type { JobRecord } from "./jobRecords.ts";

/**
 * The agreement a job runs under, read from its one stored copy: `jobs.agreement`, the signed pair
 * `{provider, submitter}` the job service stores as the job starts (the submitter's store keeps the
 * same pair, parsed by the same `storedAgreement`). Reconciliation, the invoice and the usage API
 * rate and check the job with it. Undefined when the stored pair cannot be read as an agreement
 * today (a job stored under an older agreement schema). Signatures are not checked here: both were
 * checked before the job was stored.
 */
export function jobAgreement(job: Pick<JobRecord, "jobId" | "agreement">): Agreement | undefined {
  try {
    return storedAgreement(job.jobId, job.agreement).agreement;
  } catch (error) {
    if (error instanceof StoredAgreementError) return undefined;
    throw error;
  }
}
