import { listRedemptions } from "../chain/actions/listRedemptions.ts";
import { readChannel } from "../chain/actions/readChannel.ts";
import { UsageError } from "../errors/usage.ts";
import { type AuditCheck, auditJobReceipts } from "../receipt/auditJobReceipts.ts";
import type { Submitter } from "./createSubmitter.ts";
import { storedAgreement } from "./storedAgreement.ts";
import { getSubmitterJob, listJobVouchers, listNoteRecords } from "./submitterStore.ts";

export type VerifyJobReturnType = { jobId: string; ok: boolean; checks: AuditCheck[] };

/**
 * `gridspot job verify`: re-checks a job's billing trail from the local store (see
 * `auditJobReceipts`), then on-chain: the channel is ours and the agreement's provider's, and its
 * `Redeemed` events reach the last voucher we signed for the job. `ok` only when every check passes.
 * @throws UsageError when the job is not in the store.
 */
export async function verifyJob(submitter: Submitter, jobId: string): Promise<VerifyJobReturnType> {
  const { store, clients, deployment, account } = submitter;
  const job = getSubmitterJob(store, jobId);
  if (job === undefined) throw new UsageError(`No job ${jobId} in ${store.path}`);
  const { signatures } = storedAgreement(job.jobId, job.agreement);
  const vouchers = listJobVouchers(store, job.jobId);
  const audit = await auditJobReceipts({
    chainId: clients.chain.id,
    signatures,
    channelId: job.channelId,
    channelBase: job.channelBase,
    notes: listNoteRecords(store, job.jobId).map((n) => ({
      seq: n.seq,
      envelope: parseJson(n.envelope),
      verdict: n.verdict,
    })),
    vouchers,
  });
  const checks = [...audit.checks];
  if (audit.agreement !== undefined) {
    const agreement = audit.agreement;
    const problems: string[] = [];
    if (agreement.escrow !== deployment.contracts.computeEscrow)
      problems.push(
        `the agreement names escrow ${agreement.escrow}, the deployment ${deployment.contracts.computeEscrow}`,
      );
    const channel = await readChannel(clients.publicClient, {
      escrow: deployment.contracts.computeEscrow,
      channelId: job.channelId,
    });
    if (channel.payer !== account.address || channel.provider !== agreement.provider)
      problems.push(
        `channel ${job.channelId} is ${channel.payer} → ${channel.provider}, not ours to ${agreement.provider}`,
      );
    // The job's last voucher (by note seq): the audit above checked that they only grow.
    const last = vouchers.at(-1)?.cumulativeAmount ?? 0n;
    const redemptions = await listRedemptions(clients.publicClient, {
      escrow: deployment.contracts.computeEscrow,
      channelId: job.channelId,
      fromBlock: deployment.deployBlock,
    });
    const covering = redemptions.find((r) => r.cumulativeAmount >= last);
    const redeemed = redemptions.at(-1)?.cumulativeAmount ?? 0n;
    if (vouchers.length > 0 && covering === undefined)
      problems.push(`the channel's redemptions reach ${redeemed}, not the last voucher's ${last}`);
    checks.push({
      name: "on-chain redemption",
      ok: problems.length === 0,
      detail:
        problems.length > 0
          ? problems.join("; ")
          : vouchers.length === 0
            ? `channel ${job.channelId}: no voucher signed, nothing to redeem`
            : `channel ${job.channelId}: redeemed up to ${redeemed} ≥ last voucher ${last} in ${covering?.txHash}`,
    });
  }
  return { jobId: job.jobId, ok: checks.every((c) => c.ok), checks };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
