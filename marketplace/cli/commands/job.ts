import { readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Hex } from "viem";
import { createSubmitter, type Submitter } from "../../client/createSubmitter.ts";
import { listRedemptions, type Redemption, redeemTxFor } from "../../client/listRedemptions.ts";
import { storedAgreement } from "../../client/storedAgreement.ts";
import { submitJob } from "../../client/submitJob.ts";
import {
  getSubmitterJob,
  listAlerts,
  listJobVouchers,
  listNoteRecords,
  listSubmitterJobs,
} from "../../client/submitterStore.ts";
import { timeUntilEmpty } from "../../client/timeUntilEmpty.ts";
import { verifyJob } from "../../client/verifyJob.ts";
import { UsageError } from "../../errors/usage.ts";
import { buildInvoice } from "../../invoice/buildInvoice.ts";
import { invoiceToCsv } from "../../invoice/invoiceToCsv.ts";
import type { Rate } from "../../messages/primitives.ts";
import { type DebitNote, debitNote } from "../../messages/receipt.ts";
import { HOUR_MS } from "../../rating/constants.ts";
import { formatGrid, formatMs, parseGrid, parsePositiveInt } from "../format.ts";
import {
  GLOBAL_OPTION_SPEC,
  type GlobalOptions,
  loadCliAccount,
  resolveGlobalOptions,
} from "../globalOptions.ts";
import type { CommandResult } from "./types.ts";

async function open(options: GlobalOptions): Promise<Submitter> {
  return createSubmitter(
    {
      dataDir: options.dataDir,
      rpcUrl: options.rpcUrl,
      deploymentsDir: options.deploymentsDir,
      bootstrap: options.bootstrap,
      localNetwork: options.localNetwork,
    },
    await loadCliAccount(options),
  );
}

/**
 * `job submit [flags] -- COMMAND [ARGS]`: everything after `--` is the job's command line.
 */
export async function jobSubmit(argv: string[]): Promise<CommandResult> {
  const split = argv.indexOf("--");
  const own = split === -1 ? argv : argv.slice(0, split);
  const command = split === -1 ? [] : argv.slice(split + 1);
  const { values } = parseArgs({
    args: own,
    strict: true,
    allowPositionals: false,
    options: {
      ...GLOBAL_OPTION_SPEC,
      gpus: { type: "string" },
      "gpu-class": { type: "string" },
      cpus: { type: "string" },
      mem: { type: "string" },
      "max-price-gpu-hour": { type: "string" },
      budget: { type: "string" },
      "max-duration": { type: "string" },
      input: { type: "string", multiple: true },
      output: { type: "string", multiple: true },
      env: { type: "string", multiple: true },
      "bid-window": { type: "string" },
      explain: { type: "boolean", default: false },
      "out-dir": { type: "string" },
      "redeem-wait": { type: "string" },
    },
  });
  if (command.length === 0 || command[0] === undefined) {
    throw new UsageError(
      "Give the job's command after --, e.g. gridspot job submit --cpus 1 -- python3 train.py",
    );
  }
  const options = resolveGlobalOptions(values, "submitter");
  const gpus = parsePositiveInt(values.gpus, "--gpus", 0);
  const gpuClass = values["gpu-class"];
  if (gpuClass !== undefined && !/^[a-z0-9]+-[a-z0-9]+-[0-9]+gb$/.test(gpuClass)) {
    throw new UsageError(`--gpu-class must look like nvidia-h100-80gb, got "${gpuClass}"`);
  }
  const maxRates: Rate[] = [];
  if (values["max-price-gpu-hour"] !== undefined) {
    maxRates.push({
      meter: "gpu_ms",
      price: parseGrid(values["max-price-gpu-hour"], "--max-price-gpu-hour"),
      per: HOUR_MS,
    });
  }
  const env: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--env takes NAME=VALUE, got "${pair}"`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const inputs = await Promise.all(
    (values.input ?? []).map(async (path) => {
      try {
        return { path: basename(path), data: new Uint8Array(await readFile(path)) };
      } catch (error) {
        throw new UsageError(`Cannot read --input ${path}`, { cause: error });
      }
    }),
  );
  const requirements = {
    gpus,
    ...(gpuClass === undefined ? {} : { gpuClass }),
    cpuCores: Math.max(1, parsePositiveInt(values.cpus, "--cpus", 1)),
    memMiB: Math.max(1, parsePositiveInt(values.mem, "--mem", 512)),
    maxDurationS: Math.max(1, parsePositiveInt(values["max-duration"], "--max-duration", 3600)),
  };
  // Every flag is checked before the wallet, the chain or the network is touched.
  const budget = values.budget === undefined ? undefined : parseGrid(values.budget, "--budget");
  const bidWindowMs = parsePositiveInt(values["bid-window"], "--bid-window", 1500);
  const redeemWaitMs = parsePositiveInt(values["redeem-wait"], "--redeem-wait", 30_000);
  const submitter = await open(options);
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once("SIGINT", onSigint);
  let lastCost = "";
  try {
    const result = await submitJob(submitter, {
      requirements,
      maxRates,
      budget,
      spec: { command: command[0], args: command.slice(1), env, outputs: values.output ?? [] },
      inputs,
      outputDir: resolve(values["out-dir"] ?? "gridspot-out"),
      bidWindowMs,
      explain: values.explain,
      redeemWaitMs,
      signal: controller.signal,
      events: {
        onProgress: (m) => process.stderr.write(`gridspot: ${m}\n`),
        onLog: (stream, data) =>
          (options.json ? process.stderr : stream === "stdout" ? process.stdout : process.stderr).write(data),
        onStatus: (status, reason) => process.stderr.write(`gridspot: job ${status}: ${reason}\n`),
        onAlert: (message) => process.stderr.write(`gridspot: ${message}\n`),
        onNote: (note, verdict) => {
          lastCost = `gridspot: cost so far ${formatGrid(note.jobAmount)} after ${formatMs(BigInt(note.elapsedMs))}${verdict === "accepted" ? "" : ` — REFUSED: ${verdict}`}`;
          process.stderr.write(`${lastCost}\n`);
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
      usage: result.usage,
      amount: result.amount,
      budget: result.budget,
      channelId: result.channelId,
      vouchers: result.vouchers.length,
      lastVoucher: result.vouchers.at(-1)?.cumulativeAmount ?? null,
      redeemTx: result.redeemTx,
      outputs: result.outputs,
      bids: result.bids,
      explanation: result.explanation,
    };
    const text = [
      `Job ${result.jobId} ${result.status} (${result.reason})`,
      `Provider   ${result.provider} ${result.gpuClass ?? "(CPU only)"}`,
      ...Object.entries(result.usage).map(([meter, q]) => `Usage      ${meter.padEnd(12)} ${q}`),
      `Amount     ${formatGrid(result.amount)} (budget ${formatGrid(result.budget)})`,
      `Vouchers   ${result.vouchers.length} signed on channel ${result.channelId}`,
      `Redeemed   ${result.redeemTx ?? "not yet (the provider redeems after the job)"}`,
      ...(result.outputs.length > 0 ? [`Outputs    ${result.outputs.join(", ")}`] : []),
    ].join("\n");
    return { json, text, exitCode: result.status === "completed" ? 0 : 1 };
  } finally {
    process.off("SIGINT", onSigint);
    await submitter.close();
  }
}

export async function jobList(options: GlobalOptions): Promise<CommandResult> {
  const submitter = await open(options);
  try {
    const jobs = listSubmitterJobs(submitter.store).map((j) => ({
      jobId: j.jobId,
      provider: j.provider,
      status: j.status,
      amount: j.amount,
      createdAt: new Date(j.createdAt).toISOString(),
    }));
    const text =
      jobs.length === 0
        ? "No jobs yet."
        : jobs
            .map((j) => `${j.jobId}  ${j.status.padEnd(9)} ${formatGrid(j.amount).padEnd(28)} ${j.provider}`)
            .join("\n");
    return { json: { jobs }, text };
  } finally {
    await submitter.close();
  }
}

function requireJob(submitter: Submitter, jobId: string | undefined) {
  if (jobId === undefined) throw new UsageError("Give a job id (see `gridspot job list`)");
  const job = getSubmitterJob(submitter.store, jobId);
  if (job === undefined) throw new UsageError(`No job ${jobId} in ${submitter.store.path}`);
  return job;
}

export async function jobStatus(options: GlobalOptions, jobId: string | undefined): Promise<CommandResult> {
  const submitter = await open(options);
  try {
    const job = requireJob(submitter, jobId);
    const { agreement: _a, spec: _s, ...rest } = job;
    const notes = acceptedNotes(submitter, job.jobId);
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
      json: { ...rest, timeUntilEmptyS, alerts },
      text: [
        `Job ${job.jobId}: ${job.status}${job.reason ? ` (${job.reason})` : ""}`,
        `Provider ${job.provider}, channel ${job.channelId}`,
        `Amount ${formatGrid(job.amount)} of budget ${formatGrid(job.budget)}`,
        ...(job.status === "running"
          ? [
              `Time until empty ${timeUntilEmptyS === null ? "unknown (no recent spending to measure)" : `about ${formatMs(BigInt(timeUntilEmptyS) * 1000n)} at the recent burn rate`}`,
            ]
          : []),
        ...(alerts.length > 0
          ? [`Alerts at ${alerts.map((a) => `${a.threshold}%`).join(", ")} of the budget`]
          : []),
        `Redeem tx ${job.redeemTx ?? "none yet"}`,
      ].join("\n"),
    };
  } finally {
    await submitter.close();
  }
}

/** The job's accepted notes, parsed from their stored envelopes, in seq order. */
function acceptedNotes(submitter: Submitter, jobId: string): DebitNote[] {
  return listNoteRecords(submitter.store, jobId)
    .filter((n) => n.verdict === "accepted")
    .map((n) => debitNote.parse(JSON.parse((JSON.parse(n.envelope) as { payload: string }).payload)));
}

/**
 * `job invoice ID [--json | --csv]`: one line per meter (per band of a tiered rate, plus the
 * minimum-charge top-up), traced from the events the notes billed to the vouchers and the
 * transactions that redeemed them. CSV: a header row, then one row per line in base units.
 */
export async function jobInvoice(argv: string[]): Promise<CommandResult> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: { ...GLOBAL_OPTION_SPEC, csv: { type: "boolean", default: false } },
  });
  const options = resolveGlobalOptions(values, "submitter");
  if (values.csv && options.json) throw new UsageError("Give --json or --csv, not both");
  const submitter = await open(options);
  try {
    const job = requireJob(submitter, positionals[0]);
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
      notes: acceptedNotes(submitter, job.jobId),
      vouchers: vouchers.map((v) => ({
        cumulativeAmount: v.cumulativeAmount,
        noteSeq: v.noteSeq,
        redeemTx:
          redeemTxFor(redemptions, v.cumulativeAmount) ??
          (v.noteSeq === lastSeq ? (job.redeemTx as Hex | null) : null),
      })),
    });
    if (values.csv) return { json: invoice, text: invoiceToCsv(invoice) };
    const redeemed = invoice.trace.vouchers.at(-1)?.redeemTx ?? null;
    const text = [
      `Invoice for job ${invoice.jobId} (provider ${invoice.provider}, channel ${invoice.channelId ?? "-"}, granularity ${invoice.granularity})`,
      ...invoice.lines.map(
        (l) =>
          `  ${l.meter.padEnd(14)} ${(l.tier === null ? "" : `tier ${l.tier}`).padEnd(7)} ${String(l.billedQuantity).padStart(14)} × ${l.price}/${l.per}  = ${formatGrid(l.amount)}`,
      ),
      `  total ${formatGrid(invoice.total)}${invoice.minimumChargeApplied ? " (the minimum charge)" : ""}`,
      `  ${invoice.trace.eventCount} usage event(s) ${invoice.trace.firstEventId ?? "-"} … ${invoice.trace.lastEventId ?? "-"}, events hash ${invoice.trace.eventsHash ?? "-"}`,
      `  ${invoice.trace.notes.length} note(s), ${invoice.trace.vouchers.length} voucher(s), redeemed in ${redeemed ?? "(not yet)"}`,
    ].join("\n");
    return { json: invoice, text };
  } finally {
    await submitter.close();
  }
}

/** `job verify ID`: every check of the job's billing trail, exit 0 only when all pass. */
export async function jobVerify(options: GlobalOptions, jobId: string | undefined): Promise<CommandResult> {
  const submitter = await open(options);
  try {
    const job = requireJob(submitter, jobId);
    const result = await verifyJob(submitter, job.jobId);
    const failed = result.checks.filter((c) => !c.ok).length;
    const text = [
      `Verifying job ${result.jobId}`,
      ...result.checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`),
      failed === 0
        ? `All ${result.checks.length} checks passed.`
        : `${failed} of ${result.checks.length} checks failed.`,
    ].join("\n");
    return { json: result, text, exitCode: result.ok ? 0 : 1 };
  } finally {
    await submitter.close();
  }
}

export function jobOptions(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: GLOBAL_OPTION_SPEC,
  });
  return { options: resolveGlobalOptions(values, "submitter"), positionals };
}
