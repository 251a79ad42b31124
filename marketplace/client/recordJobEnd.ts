import type { Submitter } from "./createSubmitter.ts";
import type { JobResult } from "./runJobClient.ts";
import { waitForRedeem } from "./submitJob.ts";
import { claimChannel, updateSubmitterJob } from "./submitterStore.ts";

/**
 * What every job's end writes, whoever ran it (the CLI in the foreground or the payer agent): its
 * final status and why, the outputs that arrived, the channel freed for the next job; then, when a
 * voucher was signed, the provider's redeem transaction if one comes within `redeemWaitMs`.
 */
export async function recordJobEnd(
  submitter: Submitter,
  p: { jobId: string; channelId: bigint; result: JobResult; redeemWaitMs: number },
): Promise<`0x${string}` | null> {
  const { store } = submitter;
  const { result } = p;
  claimChannel(store, p.channelId, null);
  updateSubmitterJob(store, p.jobId, {
    status: result.status,
    exitCode: result.exitCode,
    reason: result.reason,
    endedAt: result.endedAt ?? Date.now(),
    outputs: result.outputs,
    ...(result.reasonCode === undefined ? {} : { reasonCode: result.reasonCode }),
  });
  const last = result.vouchers.at(-1);
  const redeemTx =
    last === undefined
      ? null
      : await waitForRedeem(submitter, p.channelId, last.cumulativeAmount, p.redeemWaitMs);
  if (redeemTx !== null) updateSubmitterJob(store, p.jobId, { redeemTx });
  return redeemTx;
}

/** A job that could not run (the provider refused it, an input could not be read): said, channel freed. */
export function recordJobRefused(
  submitter: Submitter,
  p: { jobId: string; channelId: bigint; error: Error },
) {
  updateSubmitterJob(submitter.store, p.jobId, {
    status: "refused",
    reason: p.error.message.split("\n")[0] ?? "",
    endedAt: Date.now(),
  });
  claimChannel(submitter.store, p.channelId, null);
}
