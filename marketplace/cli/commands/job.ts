import { resolve } from "node:path";
import type { Hex } from "viem";
import { runningAgent } from "../../agent/agentFiles.ts";
import { listRedemptions, type Redemption, redeemTxFor } from "../../chain/actions/listRedemptions.ts";
import { readChannel } from "../../chain/actions/readChannel.ts";
import type { ProviderJobState } from "../../client/askProviderForJob.ts";
import type { Submitter } from "../../client/createSubmitter.ts";
import { storedAgreement } from "../../client/storedAgreement.ts";
import { acceptedNotes, invoiceNotes } from "../../client/storedNotes.ts";
import {
  claimChannel,
  getSubmitterJob,
  listAlerts,
  listJobVouchers,
  listSubmitterJobs,
  type SubmitterJob,
  updateSubmitterJob,
} from "../../client/submitterStore.ts";
import { timeUntilEmpty } from "../../client/timeUntilEmpty.ts";
import type { VerifyJobReturnType } from "../../client/verifyJob.ts";
import { TransferError } from "../../errors/transfer.ts";
import { UsageError } from "../../errors/usage.ts";
import { buildInvoice } from "../../invoice/buildInvoice.ts";
import { invoiceToCsv } from "../../invoice/invoiceToCsv.ts";
import { jobPath } from "../../messages/jobPath.ts";
import { DEFAULT_ORDER_MAX_SUSPENDED_S } from "../../p2p/constants.ts";
import { localInputManifest } from "../../transfer/localInputManifest.ts";
import { chainContext } from "../chainContext.ts";
import { checkBootstrap } from "../checkBootstrap.ts";
import {
  formatDuration,
  formatGranularity,
  formatGrid,
  formatRate,
  formatTable,
  parseDurationS,
  parseGrid,
  parsePositiveInt,
} from "../format.ts";
import { type GlobalOptions, loadCliAccount } from "../globalOptions.ts";
import { createProgress } from "../progress.ts";
import { transferProgress } from "../transferProgress.ts";
import { outputsHint, submitDetached } from "./jobDetached.ts";
import {
  type PriceFlags,
  parseBidWindowMs,
  parseEnv,
  parseImage,
  parseJobCommand,
  parseMaxRates,
  parseMaxSuspendedS,
  parseRequirements,
  type RequirementFlags,
} from "./jobFlags.ts";
import type { CommandResult } from "./types.ts";

export async function open(options: GlobalOptions): Promise<Submitter> {
  chainContext.rpcUrl = options.rpcUrl;
  // Loaded here, not at the top: libp2p and the chain client take most of a second to load, and a
  // command's flags are checked (and a mistake said) before any of them is needed.
  const { createSubmitter } = await import("../../client/createSubmitter.ts");
  const submitter = await createSubmitter(
    {
      dataDir: options.dataDir,
      rpcUrl: options.rpcUrl,
      deploymentsDir: options.deploymentsDir,
      bootstrap: options.bootstrap,
      localNetwork: options.localNetwork,
    },
    await loadCliAccount(options),
  );
  chainContext.address = submitter.account.address;
  chainContext.chainId = submitter.clients.chain.id;
  chainContext.contracts = { ...submitter.deployment.contracts };
  return submitter;
}

/** The flags of `job submit`, as the parser hands them over (strings, checked here). */
export type JobSubmitFlags = RequirementFlags &
  PriceFlags & {
    budget?: string | undefined;
    expectedDuration?: string | undefined;
    input?: string[] | undefined;
    output?: string[] | undefined;
    env?: string[] | undefined;
    bidWindow?: string | undefined;
    explain?: boolean | undefined;
    outDir?: string | undefined;
    redeemWait?: string | undefined;
    image?: string | undefined;
    entrypoint?: string | undefined;
    detach?: boolean | undefined;
    maxSuspended?: string | undefined;
  };

/**
 * `job submit [flags] -- COMMAND [ARGS]`: everything after `--` is the job's command line.
 */
export async function jobSubmit(
  options: GlobalOptions,
  flags: JobSubmitFlags,
  p: { operands: string[]; command: string[] },
): Promise<CommandResult> {
  const command = parseJobCommand(p, "gridspot job submit --cpus 1 -- python3 train.py");
  const image = parseImage(flags.image);
  if (flags.entrypoint !== undefined && image === undefined) {
    throw new UsageError("--entrypoint needs --image: only a container image has an entrypoint to replace");
  }
  const requirements = parseRequirements(flags);
  // Counted meters: billed only with both a price ceiling and a usage ceiling.
  const counted = parseMaxRates(flags);
  const env = parseEnv(flags.env);
  // Output globs must stay inside the job's work dir: refused here, before any order is published.
  const outputs = (flags.output ?? []).map((glob) => {
    try {
      return jobPath(glob, "--output glob");
    } catch (error) {
      if (!(error instanceof TransferError)) throw error;
      throw new UsageError(`${error.shortMessage}: output globs are relative to the job's work dir`);
    }
  });
  // Files and folders (recursively, relative paths kept), hashed here: the start signs each sha256.
  const manifest = await localInputManifest(flags.input ?? []).catch((error: unknown) => {
    if (!(error instanceof TransferError)) throw error;
    throw new UsageError(`--input: ${error.shortMessage}`, { cause: error });
  });
  for (const { source, reason } of manifest.skipped)
    process.stderr.write(`gridspot: --input: skipped ${source}: ${reason}\n`);
  const inputs = manifest.files;
  const expectedS =
    flags.expectedDuration === undefined
      ? undefined
      : parseDurationS(flags.expectedDuration, "--expected-duration");
  if (expectedS !== undefined && expectedS > requirements.maxDurationS)
    throw new UsageError("--expected-duration cannot be longer than --max-duration");
  // Every flag is checked before the wallet, the chain or the network is touched.
  const budget = flags.budget === undefined ? undefined : parseGrid(flags.budget, "--budget");
  const bidWindowMs = parseBidWindowMs(flags.bidWindow);
  const redeemWaitMs = parsePositiveInt(flags.redeemWait, "--redeem-wait", 30_000);
  // How long the provider keeps the job suspended while the payer is away: a detached job's agent
  // may restart or sleep, so it asks for DEFAULT_ORDER_MAX_SUSPENDED_S unless told otherwise; a
  // foreground job only when asked (a CLI that died cannot come back to it).
  const maxSuspendedS = parseMaxSuspendedS(
    flags.maxSuspended,
    flags.detach === true ? DEFAULT_ORDER_MAX_SUSPENDED_S : undefined,
  );
  const spec = {
    ...(image === undefined ? {} : { image }),
    // One word: the entrypoint's program (its arguments go after --, with the command).
    ...(flags.entrypoint === undefined ? {} : { entrypoint: [flags.entrypoint] }),
    command: command.command,
    args: command.args,
    env,
    outputs,
  };
  if (flags.detach === true) {
    if (flags.outDir !== undefined || flags.redeemWait !== undefined)
      throw new UsageError(
        "--out-dir and --redeem-wait are for jobs in the foreground; a detached job's outputs wait in the data dir for `gridspot job outputs ID --out-dir DIR`",
      );
    return submitDetached(options, {
      requirements,
      maxRates: counted.maxRates,
      ...(counted.maxUsage === undefined ? {} : { maxUsage: counted.maxUsage }),
      ...(budget === undefined ? {} : { budget }),
      ...(expectedS === undefined ? {} : { expectedDurationMs: BigInt(expectedS) * 1000n }),
      spec,
      inputs,
      bidWindowMs,
      explain: flags.explain === true,
      maxSuspendedS: maxSuspendedS ?? DEFAULT_ORDER_MAX_SUSPENDED_S,
    });
  }
  const submitter = await open(options);
  try {
    // A stale deployments file or an unreachable bootstrap is said before any order is published.
    const { assertDeployed } = await import("../openChain.ts");
    await assertDeployed(submitter.clients, submitter.deployment);
    for (const address of checkBootstrap((await submitter.network()).host, options.bootstrap))
      process.stderr.write(`gridspot: cannot reach bootstrap peer ${address}; going on without it\n`);
  } catch (error) {
    await submitter.close();
    throw error;
  }
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  let lastCost = "";
  const progress = createProgress(process.stderr);
  let ticker: ReturnType<typeof setInterval> | undefined;
  const stopTicker = () => {
    if (ticker !== undefined) clearInterval(ticker);
    ticker = undefined;
  };
  try {
    const { submitJob } = await import("../../client/submitJob.ts");
    const result = await submitJob(submitter, {
      requirements,
      maxRates: counted.maxRates,
      ...(counted.maxUsage === undefined ? {} : { maxUsage: counted.maxUsage }),
      budget,
      ...(expectedS === undefined ? {} : { expectedDurationMs: BigInt(expectedS) * 1000n }),
      spec,
      inputs,
      ...(maxSuspendedS === undefined ? {} : { maxSuspendedS }),
      outputDir: resolve(flags.outDir ?? "gridspot-out"),
      bidWindowMs,
      explain: flags.explain === true,
      redeemWaitMs,
      signal: controller.signal,
      events: {
        onProgress: (m) => {
          stopTicker();
          progress.done(m);
          // The bid window: a live countdown on a terminal.
          if (progress.live && m.includes("collecting bids")) {
            const started = Date.now();
            ticker = setInterval(
              () =>
                progress.update(
                  `collecting bids: ${formatDuration(Date.now() - started)} of ${formatDuration(bidWindowMs)}`,
                ),
              200,
            );
          }
        },
        onLog: (stream, data) => {
          stopTicker();
          progress.clear();
          (options.json ? process.stderr : stream === "stdout" ? process.stdout : process.stderr).write(data);
        },
        onStatus: (status, reason) => progress.done(`job ${status}: ${reason}`),
        onAlert: (message) => progress.done(message),
        // Transfers: a live line on a terminal, a line per tenth otherwise.
        onTransfer: transferProgress((line) =>
          line.includes("(100 %)") ? progress.done(line) : progress.update(line),
        ),
        onNote: (note, verdict) => {
          lastCost = `cost so far ${formatGrid(note.jobAmount)} after ${formatDuration(note.elapsedMs)}${verdict === "accepted" ? "" : ` — REFUSED: ${verdict}`}`;
          progress.update(lastCost);
        },
      },
    });
    const json = {
      jobId: result.jobId,
      provider: result.provider,
      gpuClass: result.gpuClass ?? null,
      status: result.status,
      exitCode: result.exitCode,
      reason: result.reason,
      reasonCode: result.reasonCode ?? null,
      startedAt: result.startedAt ?? null,
      endedAt: result.endedAt ?? null,
      runtime: result.runtime ?? null,
      imageDigest: result.imageDigest ?? null,
      usage: result.usage,
      amount: result.amount,
      budget: result.budget,
      channelId: result.channelId,
      vouchers: result.vouchers.length,
      lastVoucher: result.vouchers.at(-1)?.cumulativeAmount ?? null,
      redeemTx: result.redeemTx,
      outputs: result.outputs,
      dropped: result.dropped,
      bids: result.bids,
      explanation: result.explanation,
    };
    const text = [
      `Job ${result.jobId} ${result.status} (${result.reason})`,
      `Provider   ${result.provider} ${result.gpuClass ?? "(CPU only)"}`,
      ...(result.runtime === undefined
        ? []
        : [
            `Ran in     ${result.runtime}${result.imageDigest === undefined ? "" : ` ${result.imageDigest}`}`,
          ]),
      ...Object.entries(result.usage).map(
        ([meter, q]) => `Usage      ${meter.padEnd(12)} ${quantityText(meter, BigInt(q ?? 0))}`,
      ),
      `Amount     ${formatGrid(result.amount)} (budget ${formatGrid(result.budget)})`,
      `Vouchers   ${result.vouchers.length} signed on channel ${result.channelId}`,
      `Redeemed   ${result.redeemTx ?? "not yet (the provider redeems after the job)"}`,
      ...(result.outputs.length > 0 ? [`Outputs    ${result.outputs.join(", ")}`] : []),
      ...(result.dropped.length > 0
        ? [`Dropped    ${result.dropped.map((d) => `${d.path} (${d.reason})`).join(", ")}`]
        : []),
    ].join("\n");
    return { json, text, exitCode: result.status === "completed" ? 0 : 1 };
  } finally {
    stopTicker();
    progress.clear();
    process.off("SIGINT", onSigint);
    await submitter.close();
  }
}

export async function jobList(options: GlobalOptions): Promise<CommandResult> {
  const submitter = await open(options);
  try {
    const agentUp = runningAgent(options.dataDir) !== undefined;
    const jobs = listSubmitterJobs(submitter.store).map((j) => ({
      jobId: j.jobId,
      provider: j.provider,
      status: j.status,
      reason: j.reason,
      amount: j.amount,
      createdAt: new Date(j.createdAt).toISOString(),
      detached: j.detached,
      note: jobNote(j, agentUp),
    }));
    const text =
      jobs.length === 0
        ? "No jobs yet."
        : formatTable([
            ["JOB", "STATUS", "COST", "SUBMITTED", "PROVIDER", "NOTE"],
            ...jobs.map((j) => [
              j.jobId,
              j.status,
              formatGrid(j.amount),
              j.createdAt.replace(/\.\d+Z$/, "Z"),
              j.provider,
              j.note ?? "",
            ]),
          ]);
    return { json: { jobs }, text };
  } finally {
    await submitter.close();
  }
}

/**
 * What a job's status alone does not say: its agent is away (it waits suspended), its outputs wait
 * to be fetched, or why it failed or was lost.
 */
function jobNote(job: SubmitterJob, agentUp: boolean): string | null {
  if (job.status === "running")
    return job.detached && !agentUp ? "agent not running: suspended on its provider" : null;
  const waiting = outputsHint(job).length > 0 ? `outputs waiting (gridspot job outputs ${job.jobId})` : null;
  if (job.status === "completed") return waiting;
  return (
    [job.reasonCode ?? job.reason.slice(0, 60), waiting].filter((x) => x !== null && x !== "").join("; ") ||
    null
  );
}

function requireJob(submitter: Submitter, jobId: string | undefined) {
  if (jobId === undefined) throw new UsageError("Give a job id (see `gridspot job list`)");
  const job = getSubmitterJob(submitter.store, jobId);
  if (job === undefined) throw new UsageError(`No job ${jobId} in ${submitter.store.path}`);
  return job;
}

export async function jobStatus(
  options: GlobalOptions,
  p: { jobId: string | undefined },
): Promise<CommandResult> {
  const submitter = await open(options);
  try {
    let job = requireJob(submitter, p.jobId);
    // A job whose end this store does not know (its CLI died: `lost`; its agent is away) is asked of
    // its provider: one that ended there takes the provider's final status.
    const agentAway = job.detached && job.status === "running" && runningAgent(options.dataDir) === undefined;
    const { askProviderForJob } = await import("../../client/askProviderForJob.ts");
    const asked = job.status === "lost" || agentAway ? await askProviderForJob(submitter, job) : undefined;
    if (asked?.kind === "ended") {
      updateSubmitterJob(submitter.store, job.jobId, {
        status: asked.status === "suspended" || asked.status === "timeout" ? "failed" : asked.status,
        reason: `${asked.reason} (the provider's record)`,
        exitCode: asked.exitCode,
        ...(asked.reasonCode === undefined ? {} : { reasonCode: asked.reasonCode }),
        ...(asked.endedAt === undefined ? {} : { endedAt: asked.endedAt }),
      });
      claimChannel(submitter.store, job.channelId, null);
      job = requireJob(submitter, job.jobId);
    }
    // And the chain: what the provider has redeemed on the job's channel so far.
    const onChain = await readChannel(submitter.clients.publicClient, {
      escrow: submitter.deployment.contracts.computeEscrow,
      channelId: job.channelId,
    }).catch(() => undefined);
    const { agreement: _a, spec: _s, ...rest } = job;
    const notes = acceptedNotes(submitter.store, job.jobId);
    // Only a running job burns its budget; for one that ended the estimate means nothing.
    const timeUntilEmptyS =
      job.status === "running"
        ? timeUntilEmpty({
            notes: notes.map((n) => ({ jobAmount: n.jobAmount, elapsedMs: n.elapsedMs })),
            budget: job.budget,
          })
        : null;
    const alerts = listAlerts(submitter.store, job.jobId);
    return {
      json: {
        ...rest,
        timeUntilEmptyS,
        alerts,
        providerSays: asked ?? null,
        channelRedeemed: onChain?.redeemed ?? null,
      },
      text: [
        `Job ${job.jobId}: ${job.status}${job.reason ? ` (${job.reason})` : ""}`,
        `Provider ${job.provider}, channel ${job.channelId}`,
        ...(asked === undefined ? [] : [`Provider says ${providerSaysText(asked)}`]),
        ...(onChain === undefined
          ? []
          : [
              `On chain ${formatGrid(onChain.redeemed)} redeemed of ${formatGrid(onChain.amount)} on the channel`,
            ]),
        ...(job.runtime === null
          ? []
          : [`Ran in ${job.runtime}${job.imageDigest === null ? "" : ` from image ${job.imageDigest}`}`]),
        `Amount ${formatGrid(job.amount)} of budget ${formatGrid(job.budget)}`,
        ...(job.status === "running"
          ? [
              `Time until empty ${timeUntilEmptyS === null ? "unknown (no recent spending to measure)" : `about ${formatDuration(timeUntilEmptyS * 1000)} at the recent burn rate`}`,
            ]
          : []),
        ...(alerts.length > 0
          ? [`Alerts at ${alerts.map((a) => `${a.threshold}%`).join(", ")} of the budget`]
          : []),
        `Redeem tx ${job.redeemTx ?? "none yet"}`,
        ...(job.detached
          ? [
              `Run by   the payer agent${job.status === "running" && runningAgent(options.dataDir) === undefined ? " (not running now: the job waits suspended on its provider until `gridspot agent start`)" : ""}`,
            ]
          : []),
        ...outputsHint(job),
      ].join("\n"),
    };
  } finally {
    await submitter.close();
  }
}

function providerSaysText(state: ProviderJobState): string {
  if (state.kind === "ended")
    return `it ended ${state.status} (${state.reasonCode ?? state.reason}), billed ${formatGrid(state.jobAmount)}`;
  if (state.kind === "running") return state.suspended ? "it waits suspended for its payer" : "it is running";
  if (state.kind === "unknown") return `it does not know the job (${state.message})`;
  return `nothing: unreachable (${state.message})`;
}

/**
 * `job invoice ID [--json | --csv]`: one line per meter (per band of a tiered rate, plus the
 * minimum-charge top-up and the budget cap), traced from the events the notes billed to the vouchers
 * and the transactions that redeemed them. CSV: a header row, then one row per line in base units.
 */
export async function jobInvoice(
  options: GlobalOptions,
  p: { jobId: string | undefined; csv: boolean },
): Promise<CommandResult> {
  if (p.csv && options.json) throw new UsageError("Give --json or --csv, not both");
  const submitter = await open(options);
  try {
    const job = requireJob(submitter, p.jobId);
    const { agreement } = storedAgreement(job.jobId, job.agreement);
    const vouchers = listJobVouchers(submitter.store, job.jobId);
    let redemptions: Redemption[] = [];
    try {
      redemptions = await listRedemptions(submitter.clients.publicClient, {
        escrow: submitter.deployment.contracts.computeEscrow,
        channelId: job.channelId,
        fromBlock: submitter.deployment.deployBlock,
      });
    } catch (error) {
      process.stderr.write(
        `gridspot: cannot read redemptions from the chain (${(error as Error).message.split("\n")[0]}); using the stored transaction\n`,
      );
    }
    const lastSeq = vouchers.at(-1)?.noteSeq;
    const invoice = buildInvoice({
      agreement,
      notes: invoiceNotes(submitter.store, job.jobId),
      vouchers: vouchers.map((v) => ({
        cumulativeAmount: v.cumulativeAmount,
        noteSeq: v.noteSeq,
        redeemTx:
          redeemTxFor(redemptions, v.cumulativeAmount) ??
          (v.noteSeq === lastSeq ? (job.redeemTx as Hex | null) : null),
      })),
    });
    // How it ran, as the provider reported it: what ran, for how long, why it ended.
    invoice.run = {
      runtime: job.runtime,
      imageDigest: job.imageDigest,
      startedAt: job.startedAt,
      endedAt: job.endedAt,
      reasonCode: job.reasonCode,
    };
    if (p.csv) return { json: invoice, text: invoiceToCsv(invoice) };
    const redeemed = invoice.trace.vouchers.at(-1)?.redeemTx ?? null;
    const text = [
      `Invoice for job ${invoice.jobId} (provider ${invoice.provider}, channel ${invoice.channelId ?? "-"}, billed ${formatGranularity(invoice.granularity)})`,
      ...invoice.lines.map(
        (l) =>
          `  ${l.meter.padEnd(14)} ${(l.tier === null ? "" : `tier ${l.tier}`).padEnd(7)} ${quantityText(l.meter, l.billedQuantity).padStart(14)} × ${l.meter === "minimum_charge" || l.meter === "budget_cap" ? "-" : formatRate({ meter: l.meter, price: l.price, per: l.per })}  = ${formatGrid(l.amount)}`,
      ),
      `  total ${formatGrid(invoice.total)}${invoice.minimumChargeApplied ? " (the minimum charge)" : ""}${invoice.budgetCapApplied ? " (capped at the budget)" : ""}`,
      `  ${invoice.trace.eventCount} usage event(s) ${invoice.trace.firstEventId ?? "-"} … ${invoice.trace.lastEventId ?? "-"}, events hash ${invoice.trace.eventsHash ?? "-"}`,
      `  ${invoice.trace.notes.length} note(s), ${invoice.trace.vouchers.length} voucher(s), redeemed in ${redeemed ?? "(not yet)"}`,
      ...(job.runtime === null
        ? []
        : [
            `  ran in ${job.runtime}${job.imageDigest === null ? "" : ` from image ${job.imageDigest}`}, ended: ${job.reasonCode ?? "-"}`,
          ]),
    ].join("\n");
    return { json: invoice, text };
  } finally {
    await submitter.close();
  }
}

/** `job verify ID`: every check of the job's billing trail, exit 0 only when all pass. */
export async function jobVerify(
  options: GlobalOptions,
  p: { jobId: string | undefined },
): Promise<CommandResult> {
  const submitter = await open(options);
  try {
    const job = requireJob(submitter, p.jobId);
    const { verifyJob } = await import("../../client/verifyJob.ts");
    const result = await verifyJob(submitter, job.jobId);
    return { json: result, text: verifyLines(result).join("\n"), exitCode: result.ok ? 0 : 1 };
  } finally {
    await submitter.close();
  }
}

/** `job verify`'s report for people: each check, then how many passed. */
export function verifyLines(result: VerifyJobReturnType): string[] {
  const failed = result.checks.filter((c) => !c.ok).length;
  return [
    `Verifying job ${result.jobId}`,
    ...result.checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`),
    failed === 0
      ? `All ${result.checks.length} checks passed.`
      : `${failed} of ${result.checks.length} checks failed.`,
  ];
}

/** An invoice line's quantity for people: time meters as durations, the others as counts. */
function quantityText(meter: string, quantity: bigint): string {
  if (meter === "gpu_ms" || meter === "gpu_util_ms") return `${formatDuration(quantity)} GPU`;
  if (meter === "cpu_core_ms") return `${formatDuration(quantity)} core`;
  if (meter === "mem_mib_ms" || meter === "gpu_mem_mib_ms") return `${formatDuration(quantity / 1024n)} GiB`;
  if (meter === "egress_bytes") return `${quantity} bytes`;
  return String(quantity);
}
