import type { SettlementStats } from "../../marketplace/messages/operatorApi.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import type { StoredVoucher } from "./receiptRecords.ts";

/** Amounts as zero-padded 78-digit text sort like the numbers (as in receiptRecords). */
const sortKey = (amount: bigint) => amount.toString().padStart(78, "0");

/** A redemption transaction the queue sent and follows until it counts (or is lost). */
export type SentRedemption = {
  txHash: `0x${string}`;
  channelId: bigint;
  cumulativeAmount: bigint;
  createdAt: number;
};

/** The queue's state of one channel (migration 6). */
export type QueueEntry = {
  channelId: bigint;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  deadline: number | null;
  warnedAt: number | null;
};

/**
 * Each channel's newest voucher above what is redeemed or being redeemed: above every `confirmed`
 * redemption and every `sent` one still followed. `failed` and `dropped` ones count for nothing.
 */
export function pendingVouchers(store: Store): StoredVoucher[] {
  const rows = store.db
    .prepare(
      `SELECT v.channel_id, v.cumulative_amount, v.signature, v.job_id, v.note_seq, MAX(v.sort_key) AS sort_key
       FROM vouchers v
       GROUP BY v.channel_id
       HAVING MAX(v.sort_key) > COALESCE((SELECT MAX(r.sort_key) FROM redemptions r
                                         WHERE r.channel_id = v.channel_id AND r.status IN ('confirmed', 'sent')), '')
       ORDER BY v.channel_id`,
    )
    .all() as {
    channel_id: string;
    cumulative_amount: string;
    signature: `0x${string}`;
    job_id: string;
    note_seq: number;
  }[];
  return rows.map((r) => ({
    channelId: BigInt(r.channel_id),
    cumulativeAmount: BigInt(r.cumulative_amount),
    signature: r.signature,
    jobId: r.job_id,
    noteSeq: r.note_seq,
  }));
}

/** Redemptions sent and not yet counted, oldest first. */
export function sentRedemptions(store: Store): SentRedemption[] {
  const rows = store.db
    .prepare("SELECT * FROM redemptions WHERE status = 'sent' ORDER BY created_at")
    .all() as { tx_hash: `0x${string}`; channel_id: string; cumulative_amount: string; created_at: number }[];
  return rows.map((r) => ({
    txHash: r.tx_hash,
    channelId: BigInt(r.channel_id),
    cumulativeAmount: BigInt(r.cumulative_amount),
    createdAt: r.created_at,
  }));
}

/** Moves one redemption (a transaction's part for one channel) to a new status. */
export function setRedemptionStatus(
  store: Store,
  r: {
    txHash: string;
    channelId: bigint;
    status: "confirmed" | "failed" | "dropped";
    blockNumber: bigint | null;
  },
): void {
  store.db
    .prepare("UPDATE redemptions SET status = ?, block_number = ? WHERE tx_hash = ? AND channel_id = ?")
    .run(
      r.status,
      r.blockNumber === null ? null : r.blockNumber.toString(),
      r.txHash,
      r.channelId.toString(),
    );
}

/**
 * The chain has redeemed only `onChain` on the channel: every confirmed redemption above it was lost
 * (a reorg, a reloaded node). They become `dropped`, so the channel's voucher is pending again.
 * Returns how many were dropped.
 */
export function dropRedemptionsAbove(store: Store, channelId: bigint, onChain: bigint): number {
  const result = store.db
    .prepare(
      "UPDATE redemptions SET status = 'dropped' WHERE channel_id = ? AND status = 'confirmed' AND sort_key > ?",
    )
    .run(channelId.toString(), sortKey(onChain));
  return Number(result.changes);
}

/** Channels with a confirmed redemption (created after `since`, epoch ms), with the highest amount confirmed. */
export function confirmedChannels(store: Store, since = 0): { channelId: bigint; confirmed: bigint }[] {
  const rows = store.db
    .prepare(
      `SELECT channel_id, MAX(sort_key) AS top FROM redemptions WHERE status = 'confirmed'
       GROUP BY channel_id HAVING MAX(created_at) >= ? ORDER BY channel_id`,
    )
    .all(since) as { channel_id: string; top: string }[];
  return rows.map((r) => ({ channelId: BigInt(r.channel_id), confirmed: BigInt(r.top) }));
}

export function getQueueEntry(store: Store, channelId: bigint): QueueEntry {
  const row = store.db
    .prepare("SELECT * FROM redemption_queue WHERE channel_id = ?")
    .get(channelId.toString()) as
    | {
        attempts: number;
        next_attempt_at: number;
        last_error: string | null;
        deadline: number | null;
        warned_at: number | null;
      }
    | undefined;
  return {
    channelId,
    attempts: row?.attempts ?? 0,
    nextAttemptAt: row?.next_attempt_at ?? 0,
    lastError: row?.last_error ?? null,
    deadline: row?.deadline ?? null,
    warnedAt: row?.warned_at ?? null,
  };
}

/** Writes the queue's state of a channel (the fields given; the others stay). */
export function updateQueueEntry(
  store: Store,
  channelId: bigint,
  fields: Partial<Omit<QueueEntry, "channelId">>,
): void {
  const current = getQueueEntry(store, channelId);
  const next = { ...current, ...fields };
  store.db
    .prepare(
      `INSERT INTO redemption_queue (channel_id, attempts, next_attempt_at, last_error, deadline, warned_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (channel_id) DO UPDATE SET attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at,
         last_error = excluded.last_error, deadline = excluded.deadline, warned_at = excluded.warned_at`,
    )
    .run(
      channelId.toString(),
      next.attempts,
      next.nextAttemptAt,
      next.lastError,
      next.deadline,
      next.warnedAt,
    );
}

/** What `/metrics` and `GET /v1/status` show of settlement (the schema `settlementStats`). */
export type { SettlementStats };

export function settlementStats(store: Store): SettlementStats {
  const rows = store.db
    .prepare(
      `SELECT v.channel_id, MAX(v.sort_key) AS top,
              (SELECT MAX(r.sort_key) FROM redemptions r WHERE r.channel_id = v.channel_id AND r.status = 'confirmed') AS paid,
              (SELECT q.deadline FROM redemption_queue q WHERE q.channel_id = v.channel_id) AS deadline
       FROM vouchers v GROUP BY v.channel_id`,
    )
    .all() as { channel_id: string; top: string; paid: string | null; deadline: number | null }[];
  let vouchersPending = 0;
  let pendingValue = 0n;
  let nearestDeadline: number | null = null;
  for (const r of rows) {
    const top = BigInt(r.top);
    const paid = r.paid === null ? 0n : BigInt(r.paid);
    if (top <= paid) continue;
    vouchersPending++;
    pendingValue += top - paid;
    if (r.deadline !== null && (nearestDeadline === null || r.deadline < nearestDeadline))
      nearestDeadline = r.deadline;
  }
  const unconfirmed = store.db
    .prepare("SELECT COUNT(*) AS n FROM redemptions WHERE status = 'sent'")
    .get() as {
    n: number | bigint;
  };
  return { vouchersPending, pendingValue, redemptionsUnconfirmed: Number(unconfirmed.n), nearestDeadline };
}

/** Whether a job still runs on the channel (its newest voucher will grow until it ends). */
export function channelRunning(store: Store, channelId: bigint): boolean {
  return (
    store.db
      .prepare("SELECT 1 FROM jobs WHERE channel_id = ? AND status = 'running' LIMIT 1")
      .get(channelId.toString()) !== undefined
  );
}
