import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { computeEscrowAbi } from "../chain/artifacts.generated.ts";
import { BaseError } from "../errors/base.ts";
import type { Decline } from "../messages/bid.ts";
import { signEnvelope } from "../messages/envelope.ts";
import type { JobSpec } from "../messages/job.ts";
import type { JobOrder, MaxUsage, Requirements } from "../messages/order.ts";
import type { Rate } from "../messages/primitives.ts";
import { estimateCost } from "../order/estimateCost.ts";
import { type DeclineSummary, summarizeDeclines } from "../order/explainDeclines.ts";
import { scoreBids } from "../order/scoreBids.ts";
import { ORDER_TTL_S, ORDERS_TOPIC } from "../p2p/constants.ts";
import { channelMinimum } from "../receipt/channelMinimum.ts";
import type { LocalFile } from "../transfer/localInputManifest.ts";
import { createBudgetAlerts } from "./budgetAlerts.ts";
import { SPEND_POLICY_FILE } from "./constants.ts";
import type { Submitter } from "./createSubmitter.ts";
import { ensureChannel } from "./ensureChannel.ts";
import { type JobEvents, type JobResult, runJobClient } from "./runJobClient.ts";
import { signedSince, startOfUtcDay } from "./signedSince.ts";
import { SpendCapError } from "./spendCapRefusal.ts";
import { claimChannel, insertSubmitterJob, updateSubmitterJob } from "./submitterStore.ts";
import { withDefaultMaxRates } from "./withDefaultMaxRates.ts";

export class NoBidsError extends BaseError {
  override name = "NoBidsError";
}

export type SubmitJobParameters = {
  requirements: Requirements;
  /** Maxima per meter; time meters left out get DEFAULT_MAX_RATES (see `withDefaultMaxRates`). */
  maxRates: Rate[];
  /** Ceilings on the counted meters (egress bytes, requests, tokens); none may be billed without one. */
  maxUsage?: MaxUsage | undefined;
  /** The most the job may cost, in base units; defaults to the winning bid's price for the maximum duration. */
  budget?: bigint | undefined;
  /** How long the job is expected to run: bids are ranked by their cost for it (default the maximum). */
  expectedDurationMs?: bigint | undefined;
  spec: JobSpec;
  /** The inputs' manifest (`localInputManifest` of the local files and folders): sent from disk. */
  inputs: readonly LocalFile[];
  outputDir: string;
  bidWindowMs: number;
  explain: boolean;
  /** How long to wait for the provider's redeem transaction after the job ends. */
  redeemWaitMs: number;
  events?: JobEvents & { onProgress?: (message: string) => void };
  signal?: AbortSignal;
};

export type SubmitJobReturnType = JobResult & {
  jobId: string;
  provider: `0x${string}`;
  gpuClass: string | undefined;
  channelId: bigint;
  budget: bigint;
  bids: number;
  declines: Decline[];
  /** Who saw the order and why those that did not bid declined ("5 providers saw the order: …"). */
  explanation: DeclineSummary;
  redeemTx: `0x${string}` | null;
};

const newId = () => randomBytes(12).toString("base64url");
/** The most the auction waits, after the bid window, for the providers' on-chain history. */
const REPUTATION_WAIT_MS = 2_000;

/**
 * The whole job: publish the order, collect bids for the window, accept the best, make sure a funded
 * channel to that provider exists, run the job (checking every debit note before signing its voucher),
 * and wait for the provider to redeem. No bids is an error that says why providers declined.
 */
export async function submitJob(submitter: Submitter, p: SubmitJobParameters): Promise<SubmitJobReturnType> {
  const { account, clients, deployment, store } = submitter;
  const chainId = clients.chain.id;
  const progress = p.events?.onProgress ?? (() => {});
  const { policy } = submitter;
  if (policy.dailyCap !== null) {
    const today = signedSince(store, startOfUtcDay(Date.now()));
    if (today >= policy.dailyCap)
      throw new SpendCapError(
        `The daily cap is reached: ${today} base units signed today (UTC), cap ${policy.dailyCap}`,
        { details: `Raise dailyCap in the spend policy (${SPEND_POLICY_FILE}) or wait for midnight UTC.` },
      );
  }
  const { host, bids } = await submitter.network();

  // Wait (bounded) until some provider listens on the orders topic: gossip needs a mesh.
  for (let i = 0; i < 100 && host.services.pubsub.getSubscribers(ORDERS_TOPIC).length === 0; i++)
    await sleep(100);

  const order: JobOrder = {
    orderId: newId(),
    submitter: account.address,
    peerId: host.peerId.toString(),
    addrs: host.getMultiaddrs().map((a) => a.toString()),
    requirements: p.requirements,
    // The spec's image goes in the order too, so that providers whose policy refuses it decline.
    ...(p.spec.image === undefined ? {} : { image: p.spec.image }),
    maxRates: withDefaultMaxRates(p.maxRates),
    ...(p.maxUsage === undefined ? {} : { maxUsage: p.maxUsage }),
    bidWindowMs: p.bidWindowMs,
    explain: p.explain,
  };
  bids.open(order);
  const signed = await signEnvelope(account, {
    chainId,
    kind: "JobOrder",
    peerId: order.peerId,
    expiresAt: Math.floor(Date.now() / 1000) + ORDER_TTL_S,
    payload: order,
  });
  // Reputation ties equal prices; reading it runs during the bid window and never delays the auction long.
  const reputationRead = submitter.reputation.read().then(
    () => true,
    (error: Error) => {
      submitter.logger.warn("provider reputation unavailable", { error: error.message.split("\n")[0] });
      return false;
    },
  );
  await host.services.pubsub.publish(ORDERS_TOPIC, new TextEncoder().encode(JSON.stringify(signed)));
  progress(`order ${order.orderId} published; collecting bids for ${p.bidWindowMs} ms`);
  await sleep(p.bidWindowMs);
  const { bids: received, declines, refused } = bids.close(order.orderId);
  await Promise.race([reputationRead, sleep(REPUTATION_WAIT_MS)]);
  const ranked = scoreBids(
    received,
    p.requirements,
    (provider) => submitter.reputation.of(provider).score,
    p.maxUsage,
    p.expectedDurationMs,
  );
  const openBids = new Map(received.map((b) => [b.bid, b]));

  const jobId = newId();
  let accepted: Awaited<ReturnType<typeof bids.accept>> | undefined;
  let winnerIndex = -1;
  let backedOut = 0;
  let failed = 0;
  for (const [i, candidate] of ranked.entries()) {
    const open = openBids.get(candidate.bid);
    if (open === undefined) continue;
    try {
      accepted = await bids.accept(order, open, jobId);
      // The bid engine refuses an Accept only when its capacity went to another order since the bid.
      if (accepted === undefined) {
        backedOut += 1;
        progress(`${candidate.bid.provider} backed out: its capacity was taken since the bid`);
      }
    } catch (error) {
      failed += 1;
      progress(`bid from ${candidate.bid.provider} failed: ${(error as Error).message}`);
    }
    if (accepted !== undefined) {
      winnerIndex = i;
      break;
    }
  }
  for (const [i, other] of ranked.entries()) {
    const open = openBids.get(other.bid);
    if (i !== winnerIndex && open !== undefined) await bids.pass(order, open);
  }
  const explanation = summarizeDeclines({ bids: received.length, declines, backedOut, failed, refused });
  if (p.explain || accepted === undefined) progress(explanation.text);
  if (accepted === undefined) {
    throw new NoBidsError(`No provider took order ${order.orderId}: ${explanation.text}`);
  }
  const { agreement, signatures } = accepted;
  const winner = ranked[winnerIndex];
  progress(
    `accepted ${agreement.provider} (${agreement.gpuClass ?? "cpu only"}) among ${received.length} bid(s)`,
  );

  // The default budget covers the whole maximum duration, and at least what the provider needs on
  // the channel to start (the minimum charge plus two receipt intervals at the agreed maxima).
  const estimate = estimateCost(
    agreement.rates,
    p.requirements,
    BigInt(p.requirements.maxDurationS) * 1000n,
    p.maxUsage,
  );
  const minimum = channelMinimum(agreement);
  const budget = p.budget ?? (estimate > minimum ? estimate : minimum);
  const { channelId, base } = await ensureChannel(clients, store, {
    token: deployment.contracts.computeToken,
    escrow: deployment.contracts.computeEscrow,
    provider: agreement.provider,
    amount: budget,
    until: Math.floor(Date.now() / 1000) + p.requirements.maxDurationS + 3600,
    jobId,
    onProgress: progress,
  });
  insertSubmitterJob(store, {
    jobId,
    provider: agreement.provider,
    channelId,
    channelBase: base,
    agreement: JSON.stringify(signatures),
    spec: JSON.stringify(p.spec),
    budget,
    createdAt: Date.now(),
  });
  const alerts = createBudgetAlerts(
    { store, ...(p.events?.onAlert === undefined ? {} : { notify: p.events.onAlert }) },
    policy.alerts,
  );
  const stopAlerts = () => alerts.stop();
  p.signal?.addEventListener("abort", stopAlerts, { once: true });
  let result: JobResult;
  try {
    result = await runJobClient({
      host,
      store,
      account,
      chainId,
      agreement,
      signatures,
      providerAddrs: winner?.bid.addrs ?? [],
      channelId,
      channelBase: base,
      budget,
      ...(p.maxUsage === undefined ? {} : { maxUsage: p.maxUsage }),
      spec: p.spec,
      inputs: p.inputs,
      outputDir: p.outputDir,
      ...(p.events === undefined ? {} : { events: p.events }),
      ...(p.signal === undefined ? {} : { signal: p.signal }),
      caps: { dailyCap: policy.dailyCap, channelCap: policy.channelCap },
      alerts,
    });
  } catch (error) {
    updateSubmitterJob(store, jobId, {
      status: "refused",
      reason: (error as Error).message.split("\n")[0] ?? "",
      endedAt: Date.now(),
    });
    claimChannel(store, channelId, null);
    throw error;
  } finally {
    // Webhook deliveries are bounded (attempts × timeout): let them finish before the CLI exits.
    await alerts.settled();
    p.signal?.removeEventListener("abort", stopAlerts);
  }
  claimChannel(store, channelId, null);
  updateSubmitterJob(store, jobId, {
    status: result.status,
    exitCode: result.exitCode,
    reason: result.reason,
    endedAt: result.endedAt ?? Date.now(),
    ...(result.reasonCode === undefined ? {} : { reasonCode: result.reasonCode }),
  });

  const last = result.vouchers.at(-1);
  const redeemTx =
    last === undefined
      ? null
      : await waitForRedeem(submitter, channelId, last.cumulativeAmount, p.redeemWaitMs);
  if (redeemTx !== null) updateSubmitterJob(store, jobId, { redeemTx });
  return {
    ...result,
    jobId,
    provider: agreement.provider,
    gpuClass: agreement.gpuClass,
    channelId,
    budget,
    bids: received.length,
    declines,
    explanation,
    redeemTx,
  };
}

/** The transaction that redeemed `cumulative` (or more) on the channel, if one comes within `waitMs`. */
export async function waitForRedeem(
  submitter: Submitter,
  channelId: bigint,
  cumulative: bigint,
  waitMs: number,
) {
  const { publicClient } = submitter.clients;
  const deadline = Date.now() + waitMs;
  do {
    const logs = await publicClient.getContractEvents({
      address: submitter.deployment.contracts.computeEscrow,
      abi: computeEscrowAbi,
      eventName: "Redeemed",
      args: { channelId },
      fromBlock: submitter.deployment.deployBlock,
    });
    const hit = logs.find((l) => (l.args.cumulativeAmount ?? 0n) >= cumulative);
    if (hit !== undefined) return hit.transactionHash;
    if (Date.now() >= deadline) break;
    await sleep(500);
  } while (Date.now() < deadline);
  return null;
}

/**
 * "3 providers saw the order: 2 price-above-max, 1 bid (1 then no-capacity: …)" for an auction
 * none of whose `bidCount` bids led to an agreement: never an unexplained "no bids". The one
 * implementation is `summarizeDeclines`.
 */
export function explainDeclines(bidCount: number, declines: readonly Decline[]): string {
  return summarizeDeclines({ bids: bidCount, declines, backedOut: bidCount }).text;
}
