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
import { SPEND_POLICY_FILE } from "./constants.ts";
import type { Submitter } from "./createSubmitter.ts";
import { ensureChannel } from "./ensureChannel.ts";
import { recordJobEnd, recordJobRefused } from "./recordJobEnd.ts";
import type { JobEvents, JobResult } from "./runJobClient.ts";
import { type JobSession, runJobSession } from "./runJobSession.ts";
import { signedSince, startOfUtcDay } from "./signedSince.ts";
import { SpendCapError } from "./spendCapRefusal.ts";
import { insertSubmitterJob } from "./submitterStore.ts";
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
  events?: JobEvents & {
    onProgress?: (message: string) => void;
    /** The agreement is signed and the channel funded: the job is about to start. */
    onAccepted?: (placed: PlacedJob) => void;
  };
  signal?: AbortSignal;
  /**
   * How long the provider keeps the job suspended while the payer is away (see the order's
   * `maxSuspendedS`); absent: it ends the job one grace period after suspending it.
   */
  maxSuspendedS?: number | undefined;
  /** Run by the payer agent: the job is its own, not this process's (`job submit --detach`). */
  detached?: boolean | undefined;
  /**
   * An endpoint (DESIGN §12): its replicas go in the order (the requirements are for all of them),
   * its id on the job's record; providers in `exclude` (already serving it) are not taken again.
   */
  endpoint?: { id: string; minReplicas: number; maxReplicas: number; exclude: readonly string[] } | undefined;
};

/** What `placeJob` needs: the order, and where the job's outputs will land. */
export type PlaceJobParameters = Omit<SubmitJobParameters, "events" | "signal" | "redeemWaitMs"> & {
  events?: { onProgress?: (message: string) => void } | undefined;
};

/** A placed job: what runs it, and how the auction went. */
export type PlacedJob = {
  session: JobSession;
  bids: number;
  declines: Decline[];
  explanation: DeclineSummary;
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
 * A job up to its start: publish the order, collect bids for the window, accept the best, make sure
 * a funded channel to that provider exists, and record the job. No bids is an error that says why
 * providers declined. What runs it next is the caller's: the CLI in the foreground (`submitJob`) or
 * the payer agent (`job submit --detach`).
 */
export async function placeJob(submitter: Submitter, p: PlaceJobParameters): Promise<PlacedJob> {
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
    ...(p.maxSuspendedS === undefined ? {} : { maxSuspendedS: p.maxSuspendedS }),
    ...(p.endpoint === undefined
      ? {}
      : { endpoint: { minReplicas: p.endpoint.minReplicas, maxReplicas: p.endpoint.maxReplicas } }),
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
  const excluded = new Set(p.endpoint?.exclude.map((a) => a.toLowerCase()) ?? []);
  const ranked = scoreBids(
    received.filter((b) => !excluded.has(b.bid.provider.toLowerCase())),
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
  // Providers that serve this endpoint already hold no capacity for it any longer than this.
  for (const open of received)
    if (excluded.has(open.bid.provider.toLowerCase())) await bids.pass(order, open);
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
  // biome-ignore lint/complexity/useMathMinMax: bigints (Math.max takes numbers)
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
    detached: p.detached === true,
    maxUsage: Object.fromEntries(Object.entries(p.maxUsage ?? {}).map(([k, v]) => [k, String(v)])),
    outputsDir: p.outputDir,
    providerAddrs: winner?.bid.addrs ?? [],
    ...(p.endpoint === undefined ? {} : { endpointId: p.endpoint.id }),
  });
  const session: JobSession = {
    jobId,
    agreement,
    signatures,
    providerAddrs: winner?.bid.addrs ?? [],
    channelId,
    channelBase: base,
    budget,
    maxUsage: p.maxUsage,
    spec: p.spec,
    inputs: p.inputs,
    outputDir: p.outputDir,
  };
  return { session, bids: received.length, declines, explanation };
}

/**
 * The whole job in the foreground: place it (`placeJob`), run it (checking every debit note before
 * signing its voucher), record its end and wait for the provider to redeem.
 */
export async function submitJob(submitter: Submitter, p: SubmitJobParameters): Promise<SubmitJobReturnType> {
  const placed = await placeJob(submitter, p);
  const { session } = placed;
  const { jobId, channelId, agreement } = session;
  p.events?.onAccepted?.(placed);
  let result: JobResult;
  try {
    result = await runJobSession(submitter, session, { events: p.events, signal: p.signal });
  } catch (error) {
    recordJobRefused(submitter, { jobId, channelId, error: error as Error });
    throw error;
  }
  const redeemTx = await recordJobEnd(submitter, { jobId, channelId, result, redeemWaitMs: p.redeemWaitMs });
  return {
    ...result,
    jobId,
    provider: agreement.provider,
    gpuClass: agreement.gpuClass,
    channelId,
    budget: session.budget,
    bids: placed.bids,
    declines: placed.declines,
    explanation: placed.explanation,
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
