import type { z } from "zod";
import type { storedVoucher } from "../../marketplace/messages/operatorApi.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { withTransaction } from "../../marketplace/store/withTransaction.ts";
import { markBilledInTransaction } from "./markBilled.ts";

export type StoredNote = {
  jobId: string;
  seq: number;
  envelope: string;
  jobAmount: bigint;
  channelCumulative: bigint;
  eventsHash: `0x${string}`;
};

/** A voucher as the node holds it (the schema `storedVoucher`: `POST /v1/redeem` answers with it). */
export type StoredVoucher = z.output<typeof storedVoucher>;

/**
 * Saves a debit note and marks the events it bills, in one transaction, so a note exists exactly
 * when its events are billed. The job's running amount moves with it.
 */
export function insertNote(
  store: Store,
  note: StoredNote & { createdAt: number },
  billedEventIds: readonly string[],
) {
  withTransaction(store.db, () => {
    store.db
      .prepare(
        `INSERT INTO debit_notes (job_id, seq, envelope, job_amount, channel_cumulative, events_hash, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        note.jobId,
        note.seq,
        note.envelope,
        note.jobAmount.toString(),
        note.channelCumulative.toString(),
        note.eventsHash,
        note.createdAt,
      );
    // Loud, never silent: an event billed twice would mean two notes charged it.
    markBilledInTransaction(store, billedEventIds, note.seq);
    store.db
      .prepare("UPDATE jobs SET job_amount = ? WHERE job_id = ?")
      .run(note.jobAmount.toString(), note.jobId);
  });
}

export function lastNote(store: Store, jobId: string): StoredNote | undefined {
  const row = store.db
    .prepare("SELECT * FROM debit_notes WHERE job_id = ? ORDER BY seq DESC LIMIT 1")
    .get(jobId) as
    | {
        job_id: string;
        seq: number;
        envelope: string;
        job_amount: string;
        channel_cumulative: string;
        events_hash: `0x${string}`;
      }
    | undefined;
  if (row === undefined) return undefined;
  return {
    jobId: row.job_id,
    seq: row.seq,
    envelope: row.envelope,
    jobAmount: BigInt(row.job_amount),
    channelCumulative: BigInt(row.channel_cumulative),
    eventsHash: row.events_hash,
  };
}

export function listNotes(store: Store, jobId: string): StoredNote[] {
  const rows = store.db.prepare("SELECT * FROM debit_notes WHERE job_id = ? ORDER BY seq").all(jobId) as {
    job_id: string;
    seq: number;
    envelope: string;
    job_amount: string;
    channel_cumulative: string;
    events_hash: `0x${string}`;
  }[];
  return rows.map((row) => ({
    jobId: row.job_id,
    seq: row.seq,
    envelope: row.envelope,
    jobAmount: BigInt(row.job_amount),
    channelCumulative: BigInt(row.channel_cumulative),
    eventsHash: row.events_hash,
  }));
}

/**
 * Stores a voucher durably before anything acts on it, as the record that the payer signed note
 * `noteSeq` (migration 7: one row per signed note; notes of equal amount share one signature).
 * Vouchers are cumulative: a channel's newest voucher is the one with the highest amount, and an
 * older one arriving late changes nothing. The same note stored twice is stored once.
 */
export function insertVoucher(store: Store, voucher: StoredVoucher & { receivedAt: number }): void {
  withTransaction(store.db, () => {
    store.db
      .prepare(
        `INSERT OR IGNORE INTO vouchers (channel_id, cumulative_amount, sort_key, signature, job_id, note_seq, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        voucher.channelId.toString(),
        voucher.cumulativeAmount.toString(),
        sortKey(voucher.cumulativeAmount),
        voucher.signature,
        voucher.jobId,
        voucher.noteSeq,
        voucher.receivedAt,
      );
  });
}

/** The channel's highest voucher, or undefined. */
export function latestVoucher(store: Store, channelId: bigint): StoredVoucher | undefined {
  const row = store.db
    .prepare("SELECT * FROM vouchers WHERE channel_id = ? ORDER BY sort_key DESC, note_seq LIMIT 1")
    .get(channelId.toString()) as VoucherRow | undefined;
  return row === undefined ? undefined : toVoucher(row);
}

/** The job's vouchers, one per amount (under the first note signed for it), with the transaction that paid each. */
export function jobVouchers(
  store: Store,
  jobId: string,
): (StoredVoucher & { redeemTx: `0x${string}` | null })[] {
  const rows = store.db
    .prepare(
      `SELECT v.*, (SELECT r.tx_hash FROM redemptions r WHERE r.channel_id = v.channel_id
         AND r.sort_key >= v.sort_key AND r.status = 'confirmed' ORDER BY r.sort_key LIMIT 1) AS redeem_tx
       FROM vouchers v WHERE v.job_id = ?
         AND v.note_seq = (SELECT MIN(w.note_seq) FROM vouchers w WHERE w.job_id = v.job_id AND w.sort_key = v.sort_key)
       ORDER BY v.sort_key`,
    )
    .all(jobId) as (VoucherRow & { redeem_tx: `0x${string}` | null })[];
  return rows.map((r) => ({ ...toVoucher(r), redeemTx: r.redeem_tx }));
}

/** Channels whose newest voucher is above what was redeemed on-chain (as far as we recorded). */
export function unredeemedVouchers(store: Store): StoredVoucher[] {
  // One row per channel: SQLite takes the bare columns from the row holding MAX(sort_key).
  const rows = store.db
    .prepare(
      `SELECT v.channel_id, v.cumulative_amount, v.signature, v.job_id, v.note_seq, MAX(v.sort_key) AS sort_key
       FROM vouchers v
       GROUP BY v.channel_id
       HAVING MAX(v.sort_key) > COALESCE((SELECT MAX(r.sort_key) FROM redemptions r
                                         WHERE r.channel_id = v.channel_id AND r.status = 'confirmed'), '')`,
    )
    .all() as VoucherRow[];
  return rows.map(toVoucher);
}

export function recordRedemption(
  store: Store,
  r: {
    txHash: string;
    channelId: bigint;
    cumulativeAmount: bigint;
    /** `sent` until it has its confirmations; `dropped` when the chain lost it (see the redemption queue). */
    status: "sent" | "confirmed" | "failed" | "dropped";
    blockNumber: bigint | null;
    createdAt: number;
  },
): void {
  store.db
    .prepare(
      `INSERT OR REPLACE INTO redemptions (tx_hash, channel_id, cumulative_amount, sort_key, status, block_number, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      r.txHash,
      r.channelId.toString(),
      r.cumulativeAmount.toString(),
      sortKey(r.cumulativeAmount),
      r.status,
      r.blockNumber === null ? null : r.blockNumber.toString(),
      r.createdAt,
    );
}

/** Totals for the operator API's metrics. */
export function receiptStats(store: Store) {
  const count = (sql: string) => Number((store.db.prepare(sql).get() as { n: number | bigint }).n);
  return {
    // A voucher is one amount signed for one job (notes of equal amount share it).
    vouchersRedeemed: count(
      `SELECT COUNT(*) AS n FROM (SELECT DISTINCT channel_id, sort_key, job_id FROM vouchers) v
       WHERE EXISTS (SELECT 1 FROM redemptions r
         WHERE r.channel_id = v.channel_id AND r.sort_key >= v.sort_key AND r.status = 'confirmed')`,
    ),
    vouchersTotal: count(
      "SELECT COUNT(*) AS n FROM (SELECT DISTINCT channel_id, sort_key, job_id FROM vouchers)",
    ),
  };
}

type VoucherRow = {
  channel_id: string;
  cumulative_amount: string;
  signature: `0x${string}`;
  job_id: string;
  note_seq: number;
};

const toVoucher = (r: VoucherRow): StoredVoucher => ({
  channelId: BigInt(r.channel_id),
  cumulativeAmount: BigInt(r.cumulative_amount),
  signature: r.signature,
  jobId: r.job_id,
  noteSeq: r.note_seq,
});

/** Amounts as zero-padded 78-digit text sort like the numbers (uint256 has at most 78 digits). */
function sortKey(amount: bigint): string {
  return amount.toString().padStart(78, "0");
}
