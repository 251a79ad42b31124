import type { JobEndReason } from "../../marketplace/messages/job.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { withTransaction } from "../../marketplace/store/withTransaction.ts";

/**
 * The provider's durable record of jobs, debit notes, vouchers and redemptions (schema: migration 2).
 * Money columns are TEXT decimal strings: token amounts pass 2^63 base units at 9.2 GRID.
 */
export type JobStatus = "running" | "completed" | "failed" | "cancelled" | "timeout" | "suspended";

export type JobRecord = {
  jobId: string;
  orderId: string;
  submitter: string;
  channelId: bigint;
  channelBase: bigint;
  agreement: string;
  status: JobStatus;
  exitCode: number | null;
  reason: string;
  startedAt: number;
  endedAt: number | null;
  jobAmount: bigint;
  /** `docker` or `process`, once started. */
  runtime: string | null;
  /** The image that ran (repo digest or image ID), for a container job. */
  imageDigest: string | null;
  /** Why it ended, as a code (`exit`, `timeout`, `oom`, `pids`, `disk-quota`, `cancelled`, …). */
  reasonCode: string | null;
};

type JobRow = {
  job_id: string;
  order_id: string;
  submitter: string;
  channel_id: string;
  channel_base: string;
  agreement: string;
  status: JobStatus;
  exit_code: number | null;
  reason: string;
  started_at: number;
  ended_at: number | null;
  job_amount: string;
  runtime: string | null;
  image_digest: string | null;
  reason_code: string | null;
};

const toRecord = (r: JobRow): JobRecord => ({
  jobId: r.job_id,
  orderId: r.order_id,
  submitter: r.submitter,
  channelId: BigInt(r.channel_id),
  channelBase: BigInt(r.channel_base),
  agreement: r.agreement,
  status: r.status,
  exitCode: r.exit_code,
  reason: r.reason,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  jobAmount: BigInt(r.job_amount),
  runtime: r.runtime,
  imageDigest: r.image_digest,
  reasonCode: r.reason_code,
});

/** Records a starting job and marks its channel busy, in one transaction; false if the channel is busy. */
export function insertJob(
  store: Store,
  job: Omit<
    JobRecord,
    "status" | "exitCode" | "reason" | "endedAt" | "jobAmount" | "runtime" | "imageDigest" | "reasonCode"
  >,
) {
  return withTransaction(store.db, () => {
    const busy = store.db
      .prepare("SELECT job_id FROM jobs WHERE channel_id = ? AND status = 'running'")
      .get(job.channelId.toString()) as { job_id: string } | undefined;
    if (busy !== undefined) return { ok: false as const, busyWith: busy.job_id };
    store.db
      .prepare(
        `INSERT INTO jobs (job_id, order_id, submitter, channel_id, channel_base, agreement, status, reason, started_at, job_amount)
         VALUES (?, ?, ?, ?, ?, ?, 'running', '', ?, '0')`,
      )
      .run(
        job.jobId,
        job.orderId,
        job.submitter,
        job.channelId.toString(),
        job.channelBase.toString(),
        job.agreement,
        job.startedAt,
      );
    return { ok: true as const };
  });
}

/** Records how the runtime started the job: when its first process ran, where, and which image. */
export function markJobStarted(
  store: Store,
  jobId: string,
  run: { startedAt: number; runtime: string; imageDigest?: string | undefined },
): void {
  store.db
    .prepare("UPDATE jobs SET started_at = ?, runtime = ?, image_digest = ? WHERE job_id = ?")
    .run(run.startedAt, run.runtime, run.imageDigest ?? null, jobId);
}

export function finishJob(
  store: Store,
  jobId: string,
  end: {
    status: JobStatus;
    exitCode: number | null;
    reason: string;
    reasonCode: JobEndReason;
    endedAt: number;
  },
): void {
  store.db
    .prepare(
      "UPDATE jobs SET status = ?, exit_code = ?, reason = ?, reason_code = ?, ended_at = ? WHERE job_id = ?",
    )
    .run(end.status, end.exitCode, end.reason, end.reasonCode, end.endedAt, jobId);
}

export function getJob(store: Store, jobId: string): JobRecord | undefined {
  const row = store.db.prepare("SELECT * FROM jobs WHERE job_id = ?").get(jobId) as JobRow | undefined;
  return row === undefined ? undefined : toRecord(row);
}

export function listJobs(store: Store, limit = 100): JobRecord[] {
  const rows = store.db.prepare("SELECT * FROM jobs ORDER BY started_at DESC LIMIT ?").all(limit) as JobRow[];
  return rows.map(toRecord);
}

/** Jobs left `running` by a node that stopped without finishing them (crash, SIGKILL). */
export function interruptedJobs(store: Store): JobRecord[] {
  return (store.db.prepare("SELECT * FROM jobs WHERE status = 'running'").all() as JobRow[]).map(toRecord);
}
