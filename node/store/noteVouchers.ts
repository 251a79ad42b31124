import type { Store } from "../../marketplace/store/openStore.ts";

/** A note the payer signed a voucher for. */
export type NoteVoucher = { jobId: string; noteSeq: number; cumulativeAmount: bigint; receivedAt: number };

/**
 * Records that the payer signed a voucher for a note (migration 4), once per note. Called right
 * after the voucher itself is stored (insertVoucher), which stays the durable record of money.
 */
export function recordNoteVoucher(store: Store, v: NoteVoucher): void {
  store.db
    .prepare(
      "INSERT OR IGNORE INTO note_vouchers (job_id, note_seq, cumulative_amount, received_at) VALUES (?, ?, ?, ?)",
    )
    .run(v.jobId, v.noteSeq, v.cumulativeAmount.toString(), v.receivedAt);
}

/** The job's signed notes, by seq. */
export function listNoteVouchers(store: Store, jobId: string): NoteVoucher[] {
  const rows = store.db
    .prepare("SELECT * FROM note_vouchers WHERE job_id = ? ORDER BY note_seq")
    .all(jobId) as { job_id: string; note_seq: number; cumulative_amount: string; received_at: number }[];
  return rows.map((r) => ({
    jobId: r.job_id,
    noteSeq: r.note_seq,
    cumulativeAmount: BigInt(r.cumulative_amount),
    receivedAt: r.received_at,
  }));
}
