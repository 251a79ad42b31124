import type { Store } from "../../marketplace/store/openStore.ts";
import type { SettlementStats } from "../store/redemptionQueue.ts";

type Row = { n: number | bigint };

/**
 * Prometheus text format: jobs, billed GPU time, tokens earned, vouchers pending and redeemed, and
 * the redemption queue (channels pending, their value, unconfirmed redemptions, nearest deadline).
 */
export function renderMetrics(
  store: Store,
  vouchers: { vouchersRedeemed: number; vouchersTotal: number },
  settlement: SettlementStats,
): string {
  const one = (sql: string) => (store.db.prepare(sql).get() as Row).n;
  // Ended jobs only: a running job is in the gauge, and a counter series must never go down.
  const byStatus = store.db
    .prepare("SELECT status, COUNT(*) AS n FROM jobs WHERE status <> 'running' GROUP BY status")
    .all() as {
    status: string;
    n: number;
  }[];
  const gpuMs = store.db.prepare(
    "SELECT COALESCE(SUM(quantity), 0) AS n FROM usage_events WHERE meter = 'gpu_ms'",
  );
  gpuMs.setReadBigInts(true);
  const earned = (store.db.prepare("SELECT job_amount FROM jobs").all() as { job_amount: string }[]).reduce(
    (sum, r) => sum + BigInt(r.job_amount),
    0n,
  );
  const lines = [
    "# HELP gridspot_jobs_running Jobs running now.",
    "# TYPE gridspot_jobs_running gauge",
    `gridspot_jobs_running ${one("SELECT COUNT(*) AS n FROM jobs WHERE status = 'running'")}`,
    "# HELP gridspot_jobs_total Jobs by final status.",
    "# TYPE gridspot_jobs_total counter",
    ...byStatus.map((r) => `gridspot_jobs_total{status="${r.status}"} ${r.n}`),
    "# HELP gridspot_gpu_ms_billed_total GPU milliseconds metered.",
    "# TYPE gridspot_gpu_ms_billed_total counter",
    `gridspot_gpu_ms_billed_total ${(gpuMs.get() as Row).n}`,
    "# HELP gridspot_tokens_earned_total Token base units billed in debit notes.",
    "# TYPE gridspot_tokens_earned_total counter",
    `gridspot_tokens_earned_total ${earned}`,
    "# HELP gridspot_vouchers_redeemed Vouchers covered by a confirmed redemption.",
    "# TYPE gridspot_vouchers_redeemed gauge",
    `gridspot_vouchers_redeemed ${vouchers.vouchersRedeemed}`,
    "# HELP gridspot_vouchers_pending Vouchers not yet covered by a redemption.",
    "# TYPE gridspot_vouchers_pending gauge",
    `gridspot_vouchers_pending ${vouchers.vouchersTotal - vouchers.vouchersRedeemed}`,
    "# HELP gridspot_redemption_channels_pending Channels whose newest voucher is not redeemed with the confirmations required.",
    "# TYPE gridspot_redemption_channels_pending gauge",
    `gridspot_redemption_channels_pending ${settlement.vouchersPending}`,
    "# HELP gridspot_redemption_pending_value Token base units the pending vouchers would still pay.",
    "# TYPE gridspot_redemption_pending_value gauge",
    `gridspot_redemption_pending_value ${settlement.pendingValue}`,
    "# HELP gridspot_redemptions_unconfirmed Redemptions sent and waiting for their confirmations.",
    "# TYPE gridspot_redemptions_unconfirmed gauge",
    `gridspot_redemptions_unconfirmed ${settlement.redemptionsUnconfirmed}`,
    "# HELP gridspot_redemption_nearest_deadline_seconds The nearest redeem deadline of a pending channel (unix seconds; 0 when none).",
    "# TYPE gridspot_redemption_nearest_deadline_seconds gauge",
    `gridspot_redemption_nearest_deadline_seconds ${settlement.nearestDeadline ?? 0}`,
  ];
  return `${lines.join("\n")}\n`;
}
