import type { RunJobClientParameters } from "../client/runJobClient.ts";
import { acceptedNotes } from "../client/storedNotes.ts";
import { getSubmitterJob, listJobVouchers } from "../client/submitterStore.ts";
import type { Store } from "../store/openStore.ts";

/**
 * What the agent attaches again with, from the store alone (so it holds after a SIGKILL): the last
 * note a voucher was signed for (the next one must follow it), when the job started by our clock,
 * the log bytes already written, and what was signed so far.
 */
export function attachState(store: Store, jobId: string): NonNullable<RunJobClientParameters["attach"]> {
  const job = getSubmitterJob(store, jobId);
  if (job === undefined) throw new Error(`no job ${jobId} in the store`);
  const vouchers = listJobVouchers(store, jobId);
  // A note counts as paid once its voucher is stored (a note recorded as accepted whose voucher was
  // not yet written when the agent died is checked and signed again when the provider re-sends it).
  const paid = new Set(vouchers.map((v) => v.noteSeq));
  const notes = acceptedNotes(store, jobId).filter((n) => paid.has(n.seq));
  return {
    previous: notes.at(-1),
    startedAt: job.localStartedAt ?? job.createdAt,
    logBytes: job.logBytes,
    notes: notes.length,
    vouchers: vouchers.map((v) => ({ cumulativeAmount: v.cumulativeAmount, noteSeq: v.noteSeq })),
  };
}
