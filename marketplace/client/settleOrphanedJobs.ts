import type { Store } from "../store/openStore.ts";
import { withTransaction } from "../store/withTransaction.ts";
import { ownerAlive } from "./processOwner.ts";

/** What a job the CLI lost looks like afterwards. */
export const ORPHANED_REASON =
  "the CLI running this job stopped before it ended; the provider suspends and ends a job whose vouchers stop coming after its grace period, and redeems the last voucher signed";

/**
 * Jobs left `running` by a CLI process that no longer runs (closed terminal, crash, SIGKILL) end here
 * as `lost`, and their channel is freed for the next job: without this, such a job stayed `running`
 * forever and its channel busy, so every later job opened (and funded) a new channel. What was
 * signed stays signed and stored; nothing is paid twice. Called whenever the store is opened. The
 * payer agent's jobs (`detached`) are not a CLI's: the agent attaches to them again when it starts.
 * @returns the jobs settled.
 */
export function settleOrphanedJobs(store: Store, now = Date.now()): string[] {
  const running = store.db
    .prepare("SELECT job_id, channel_id, owner FROM jobs WHERE status = 'running' AND detached = 0")
    .all() as {
    job_id: string;
    channel_id: string;
    owner: string | null;
  }[];
  const orphaned = running.filter((job) => job.owner === null || !ownerAlive(job.owner));
  if (orphaned.length === 0) return [];
  withTransaction(store.db, () => {
    for (const job of orphaned) {
      store.db
        .prepare(
          "UPDATE jobs SET status = 'lost', reason = ?, reason_code = 'unpaid', ended_at = ? WHERE job_id = ? AND status = 'running'",
        )
        .run(ORPHANED_REASON, now, job.job_id);
      store.db
        .prepare("UPDATE channels SET busy_job = NULL WHERE channel_id = ? AND busy_job = ?")
        .run(job.channel_id, job.job_id);
    }
  });
  return orphaned.map((job) => job.job_id);
}
