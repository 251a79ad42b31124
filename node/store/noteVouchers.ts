import type { Store } from "../../marketplace/store/openStore.ts";

/** A note the payer signed a voucher for. */
export type NoteVoucher = { jobId: string; noteSeq: number; cumulativeAmount: bigint; receivedAt: number };

/** The job's signed notes, by seq: one voucher row each (migration 7). */
export function listNoteVouchers(store: Store, jobId: string): NoteVoucher[] {
  const rows = store.db
    .prepare(
      "SELECT job_id, note_seq, cumulative_amount, received_at FROM vouchers WHERE job_id = ? ORDER BY note_seq",
    )
    .all(jobId) as { job_id: string; note_seq: number; cumulative_amount: string; received_at: number }[];
  return rows.map((r) => ({
    jobId: r.job_id,
    noteSeq: r.note_seq,
    cumulativeAmount: BigInt(r.cumulative_amount),
    receivedAt: r.received_at,
  }));
}
