import type { ChannelState } from "../../marketplace/chain/actions/readChannel.ts";
import type { JobStatus } from "../store/jobRecords.ts";

/**
 * Kinds of difference between the ledger, the debit notes, the vouchers and the chain:
 * - `unbilled-usage`: an ended job's ledger, rated with its agreement, is above its last note
 *   (usage that was measured but never billed: revenue leakage);
 * - `note-above-ledger`: an ended job's last note bills more than its ledger rates to (a bill the
 *   ledger does not support: the payer's risk);
 * - `unsigned-note`: once the channel's jobs have ended, its newest note asks for more than the
 *   newest voucher (billed, never signed for);
 * - `unredeemed-voucher`: the newest voucher is above what the escrow has paid (money to collect);
 * - `over-redemption`: the escrow has paid more than any voucher this node holds.
 */
export const DIFFERENCE_KINDS = [
  "unbilled-usage",
  "note-above-ledger",
  "unsigned-note",
  "unredeemed-voucher",
  "over-redemption",
] as const;
export type DifferenceKind = (typeof DIFFERENCE_KINDS)[number];

export type ReconcileDifference = {
  kind: DifferenceKind;
  /** Token base units; null when the ledger cannot be rated (no agreement and no note). */
  amount: bigint | null;
  /** The job it concerns, for the job-level kinds. */
  jobId: string | null;
  detail: string;
};

/** Where a job's rates came from: its stored agreement, else its last note, else none. */
export type RatesSource = "agreement" | "last-note" | "none";

export type JobReconciliation = {
  jobId: string;
  status: JobStatus;
  /** The ledger's cumulative usage rated with the job's rates; null when no rates are known. */
  ledgerAmount: bigint | null;
  ratesSource: RatesSource;
  /** The last note's job amount (0 without a note) and its seq. */
  noteAmount: bigint;
  lastNoteSeq: number | null;
  /** Events no note covers. */
  unbilledEvents: number;
};

export type ChannelReconciliation = {
  channelId: bigint;
  /** `ok` when no difference was found. */
  status: "ok" | "differences";
  /** A job still runs on the channel: its last interval is not billed or signed yet, which is normal. */
  running: boolean;
  jobs: JobReconciliation[];
  /** The newest note's channel cumulative (0 without notes). */
  noteCumulative: bigint;
  /** The highest voucher held (0 without). */
  voucherCumulative: bigint;
  /** `redeemed` in the escrow now. */
  redeemedOnChain: bigint;
  chain: Pick<ChannelState, "status" | "amount" | "expiry" | "deadline" | "provider">;
  differences: ReconcileDifference[];
};

export type ReconcileReport = {
  /** Epoch ms. */
  checkedAt: number;
  ok: boolean;
  channels: ChannelReconciliation[];
  /** Per kind: channels with it and the Σ of its known amounts. */
  summary: Record<DifferenceKind, { channels: number; amount: bigint }>;
};
