import { mkdir, realpath } from "node:fs/promises";
import { join } from "node:path";
import type { Hex, LocalAccount } from "viem";
import { recoverVoucherSigner } from "../../marketplace/chain/voucher.ts";
import type { Logger } from "../../marketplace/log/createLogger.ts";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import { signEnvelope } from "../../marketplace/messages/envelope.ts";
import { type JobEndStatus, type JobStart, submitterFrame } from "../../marketplace/messages/job.ts";
import type { Rate } from "../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../marketplace/messages/receipt.ts";
import { rateAtMost } from "../../marketplace/order/rateAboveMax.ts";
import { MAX_JOB_OUTPUT_BYTES, MAX_LOG_CHUNK_BYTES } from "../../marketplace/p2p/constants.ts";
import type { FrameChannel } from "../../marketplace/p2p/frames.ts";
import { noteSubtotal } from "../../marketplace/rating/noteSubtotal.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { USAGE_FILE_ENV, USAGE_FILE_NAME } from "../meter/constants.ts";
import { createEgressCounter } from "../meter/createEgressCounter.ts";
import { createGpuUsageSource } from "../meter/createGpuUsageSource.ts";
import { createJobMeter } from "../meter/createJobMeter.ts";
import { createJobUsageFileSource } from "../meter/createJobUsageFileSource.ts";
import type { GpuReading } from "../resources/readGpuUsage.ts";
import { collectOutputs } from "../run/collectOutputs.ts";
import { startProcessJob } from "../run/startProcessJob.ts";
import { writeInputs } from "../run/writeInputs.ts";
import { insertUsageEvents } from "../store/insertUsageEvents.ts";
import { finishJob } from "../store/jobRecords.ts";
import { insertJobTerms } from "../store/jobTerms.ts";
import { recordNoteVoucher } from "../store/noteVouchers.ts";
import { insertNote, insertVoucher } from "../store/receiptRecords.ts";
import { unbilledEvents } from "../store/unbilledEvents.ts";
import { usageTotals } from "../store/usageTotals.ts";
import { chainEventsHash, ZERO_HASH } from "./eventsHash.ts";

/** How often the voucher watchdog looks at the oldest unanswered note. */
const WATCHDOG_INTERVAL_MS = 50;

export type RunJobComponents = {
  store: Store;
  account: LocalAccount;
  chainId: number;
  peerId: string;
  logger: Logger;
};

export type RunJobInit = {
  workRoot: string;
  meterIntervalMs: number;
  sandbox: "auto" | "bwrap" | "none";
  /** How long to wait for the voucher of the final note before giving up on it. */
  finalVoucherWaitMs: number;
  /** Folders a sandboxed job must not see: the node's data dir (ledger, keys) and the keystore's. */
  hidePaths: string[];
  /** Reads nvidia-smi to meter GPU utilization and memory of GPU jobs; no GPU metering without it. */
  readGpuUsage?: (() => Promise<GpuReading>) | undefined;
  /** The node's current rates for a spot agreement's job (from its pricing engine). */
  spotRates?: ((agreement: Agreement) => Rate[]) | undefined;
};

export type RunJobParameters = {
  channel: FrameChannel;
  start: JobStart;
  agreement: Agreement;
  gpuIndices: number[];
};

export type JobOutcome = { status: JobEndStatus; exitCode: number | null; reason: string; jobAmount: bigint };

/**
 * Runs one accepted job to its end: starts the process, meters it into the ledger, sends a signed
 * debit note every receipt interval and takes the voucher for it (stored before anything else),
 * suspends the job when vouchers stop coming and kills it after a second grace period, and at the
 * end sends the final note, the outputs and the end status.
 */
export async function runJob(
  components: RunJobComponents,
  init: RunJobInit,
  parameters: RunJobParameters,
): Promise<JobOutcome> {
  const { store, account, chainId, peerId } = components;
  const { channel, start, agreement } = parameters;
  const { jobId } = start;
  const logger = components.logger.child(jobId);
  const rates = agreement.rates.map(({ gpuClass: _class, ...r }) => r);
  const intervalMs = agreement.receiptIntervalMs;
  const graceMs = agreement.graceIntervals * intervalMs;

  let streamOpen = true;
  const send = async (frame: unknown) => {
    if (!streamOpen) return;
    await channel.write(frame).catch((error: Error) => {
      streamOpen = false;
      logger.warn("submitter stream lost", { error: error.message });
    });
  };

  const workDir = join(init.workRoot, jobId);
  await mkdir(workDir, { recursive: true });
  await writeInputs(
    workDir,
    start.inputs.map((f) => ({ path: f.path, content: Buffer.from(f.data, "base64") })),
  );
  // usage billing: the terms to rate the ledger with (reconciliation), the egress counter, and the
  // file the job may report its own requests and tokens in.
  insertJobTerms(store, { jobId, agreement });
  const egress = createEgressCounter({ jobId });
  const usageFile = join(await realpath(workDir), USAGE_FILE_NAME);

  let watchdogKill = false;
  const handle = await startProcessJob({
    command: start.spec.command,
    args: start.spec.args,
    env: { ...start.spec.env, [USAGE_FILE_ENV]: usageFile },
    workDir,
    gpuIndices: parameters.gpuIndices,
    maxDurationMs: agreement.maxDurationS * 1000,
    sandbox: init.sandbox,
    hidePaths: init.hidePaths,
    onStdout: (chunk: Buffer) => void sendLog("stdout", chunk),
    onStderr: (chunk: Buffer) => void sendLog("stderr", chunk),
  });
  const startedAt = Date.now();
  async function sendLog(stream: "stdout" | "stderr", chunk: Buffer) {
    for (let i = 0; i < chunk.length; i += MAX_LOG_CHUNK_BYTES) {
      const part = chunk.subarray(i, i + MAX_LOG_CHUNK_BYTES);
      await send({ type: "log", stream, data: part.toString("base64") });
      if (streamOpen) egress.add(part.length);
    }
  }
  await send({ type: "started", jobId, startedAt, sandbox: handle.sandbox });
  logger.info("job started", { pid: handle.pid, sandbox: handle.sandbox });

  const meter = createJobMeter({
    jobId,
    rootPid: handle.pid,
    gpus: agreement.gpus,
    ...(agreement.gpuClass === undefined ? {} : { gpuClass: agreement.gpuClass }),
    intervalMs: init.meterIntervalMs,
    onEvents: (events) => {
      insertUsageEvents(store, events);
    },
    onError: (error) => logger.warn("metering problem", { error: (error as Error).message }),
    sources: [
      egress,
      createJobUsageFileSource({ jobId, path: usageFile, onWarning: (m, f) => logger.warn(m, f) }),
      ...(init.readGpuUsage === undefined || parameters.gpuIndices.length === 0
        ? []
        : [
            createGpuUsageSource({
              jobId,
              gpuIndices: parameters.gpuIndices,
              ...(agreement.gpuClass === undefined ? {} : { gpuClass: agreement.gpuClass }),
              read: init.readGpuUsage,
              onWarning: (m, f) => logger.warn(m, f),
            }),
          ]),
    ],
  });
  meter.start();

  /** Stops the job's processes and its billed time together, and tells the submitter why. */
  async function suspend(reason: string): Promise<void> {
    if (suspended) return;
    suspended = true;
    await meter.pause();
    handle.suspend();
    logger.warn(`${reason}: job suspended`);
    await send({ type: "status", status: "suspended", reason });
  }

  // Receipts
  let seq = 0;
  let prevHash: Hex = ZERO_HASH;
  let previousBilled: { totals: Record<string, bigint>; subtotal: bigint } | undefined;
  /** The node's current price for this job, never above the agreement's maximum (spot agreements). */
  const spotRatesNow = (): Rate[] => {
    const current = init.spotRates?.(agreement) ?? rates;
    return rates.map((agreed) => {
      const now = current.find((r) => r.meter === agreed.meter) ?? agreed;
      const max = agreement.maxRates.find((m) => m.meter === agreed.meter) ?? agreed;
      const flat = { meter: agreed.meter, price: now.price, per: now.per };
      return rateAtMost(flat, max) ? flat : { meter: max.meter, price: max.price, per: max.per };
    });
  };
  let jobAmount = 0n;
  const sentAt = new Map<number, number>();
  const noteCumulative = new Map<number, bigint>();
  let answeredSeq = -1;
  let suspended = false;
  const finalVoucher = Promise.withResolvers<void>();
  let finalSeq: number | undefined;

  // Notes are cut one at a time: a receipt tick and the final note must not bill the same events.
  let noteQueue: Promise<void> = Promise.resolve();
  const issueNote = (final: boolean): Promise<void> => {
    noteQueue = noteQueue.then(() => cutNote(final));
    return noteQueue;
  };

  async function cutNote(final: boolean): Promise<void> {
    // The grace clock starts when the note's usage is cut, not when its signature is done.
    const cutAt = Date.now();
    const events = unbilledEvents(store, jobId);
    const totals = usageTotals(store, jobId);
    // The agreement's whole rate card: tiers ride along in `rates`, the minimum charge beside them.
    // In a spot agreement each note prices the usage since the previous one at the current rates.
    const noteRates = agreement.pricing === "spot" ? spotRatesNow() : rates;
    const subtotal = noteSubtotal({
      pricing: agreement.pricing,
      rates: noteRates,
      granularity: agreement.granularity,
      totals,
      previous: previousBilled,
    });
    const minimum = agreement.minimumCharge ?? 0n;
    const jobAmountNow = subtotal > minimum ? subtotal : minimum;
    const eventsHash = chainEventsHash(prevHash, events);
    const note: DebitNote = {
      jobId,
      channelId: start.channelId,
      seq,
      elapsedMs: Date.now() - startedAt,
      usage: Object.entries(totals).map(([meter, quantity]) => ({
        meter: meter as DebitNote["usage"][number]["meter"],
        quantity: quantity ?? 0n,
      })),
      rates: noteRates,
      subtotal,
      jobAmount: jobAmountNow,
      channelCumulative: start.channelBase + jobAmountNow,
      eventsHash,
      eventCount: events.length,
      firstEventId: events[0]?.id ?? null,
      lastEventId: events.at(-1)?.id ?? null,
      final,
    };
    const envelope = await signEnvelope(account, {
      chainId,
      kind: "DebitNote",
      peerId,
      expiresAt: Math.floor(Date.now() / 1000) + 7 * 24 * 3600,
      payload: note,
    });
    insertNote(
      store,
      {
        jobId,
        seq,
        envelope: JSON.stringify(envelope),
        jobAmount: note.jobAmount,
        channelCumulative: note.channelCumulative,
        eventsHash,
        createdAt: Date.now(),
      },
      events.map((e) => e.id),
    );
    prevHash = eventsHash;
    previousBilled = { totals, subtotal };
    jobAmount = note.jobAmount;
    sentAt.set(seq, cutAt);
    noteCumulative.set(seq, note.channelCumulative);
    if (final) finalSeq = seq;
    seq += 1;
    await send({ type: "note", note: envelope });
  }

  async function takeVoucher(
    noteSeq: number,
    voucher: { channelId: bigint; cumulativeAmount: bigint; signature: Hex },
  ) {
    const expected = noteCumulative.get(noteSeq);
    if (
      voucher.channelId !== start.channelId ||
      expected === undefined ||
      voucher.cumulativeAmount !== expected
    ) {
      logger.warn("voucher does not match its note", { noteSeq, amount: voucher.cumulativeAmount });
      return;
    }
    let signer: string;
    try {
      signer = await recoverVoucherSigner({
        chainId,
        escrow: agreement.escrow,
        voucher,
        signature: voucher.signature,
      });
    } catch (error) {
      logger.warn("voucher signature invalid", { noteSeq, error: (error as Error).message });
      return;
    }
    if (signer !== agreement.submitter) {
      logger.warn("voucher not signed by the payer", { noteSeq, signer });
      return;
    }
    // Durable before acted on: a crash after this line still redeems it on restart.
    insertVoucher(store, { ...voucher, jobId, noteSeq, receivedAt: Date.now() });
    // usage billing: which note this voucher signed (the invoice is built from the signed notes).
    recordNoteVoucher(store, {
      jobId,
      noteSeq,
      cumulativeAmount: voucher.cumulativeAmount,
      receivedAt: Date.now(),
    });
    if (noteSeq > answeredSeq) answeredSeq = noteSeq;
    if (suspended && answeredSeq === seq - 1 && refusedReason === undefined) {
      suspended = false;
      handle.resume();
      await meter.resume();
      await send({ type: "status", status: "resumed", reason: "voucher received" });
    }
    if (finalSeq !== undefined && answeredSeq >= finalSeq) finalVoucher.resolve();
  }

  let cancelReason: string | undefined;
  let refusedReason: string | undefined;
  const reader = (async () => {
    for (;;) {
      const frame = await channel.read(submitterFrame);
      if (frame.type === "voucher") await takeVoucher(frame.noteSeq, frame.voucher);
      else if (frame.type === "cancel") {
        cancelReason = `cancelled by the submitter: ${frame.reason}`;
        handle.cancel(cancelReason);
      } else if (frame.type === "refuse") {
        // No voucher will come for this note (budget or cap reached, or a check failed): the job is
        // suspended at once, and the watchdog ends it when the grace period passes without one.
        refusedReason = `the submitter refused note ${frame.noteSeq}: ${frame.reason}`;
        await suspend(refusedReason);
      }
    }
  })().catch((error: Error) => {
    streamOpen = false;
    logger.info("submitter stream closed", { error: error.message.split("\n")[0] });
    finalVoucher.resolve();
  });

  // Receipts: a note every interval while the job runs.
  const tick = setInterval(() => {
    if (suspended) return;
    issueNote(false).catch((error: Error) => logger.error("receipt tick failed", { error: error.message }));
  }, intervalMs);

  // The voucher watchdog checks often, so suspension and kill come at the grace period, not up to
  // one receipt interval after it: the provider's unpaid work stays within the grace period.
  const watchdog = setInterval(() => {
    const oldestUnanswered = sentAt.get(answeredSeq + 1);
    const waited = oldestUnanswered === undefined ? 0 : Date.now() - oldestUnanswered;
    if (waited >= 2 * graceMs && !watchdogKill) {
      watchdogKill = true;
      void handle.cancel(`no voucher for ${waited} ms`);
    } else if (waited >= graceMs && !suspended) {
      void suspend(`no voucher within the grace period (${waited} ms)`).catch((error: Error) =>
        logger.error("suspend failed", { error: error.message }),
      );
    }
  }, WATCHDOG_INTERVAL_MS);

  const result = await handle.exited;
  clearInterval(tick);
  clearInterval(watchdog);
  await meter.stop();

  const status: JobEndStatus = watchdogKill
    ? "suspended"
    : result.reason === "timeout"
      ? "timeout"
      : result.reason === "cancelled"
        ? "cancelled"
        : result.exitCode === 0
          ? "completed"
          : "failed";
  const reason =
    status === "suspended"
      ? (refusedReason ?? "no voucher from the submitter within the grace period")
      : status === "cancelled"
        ? (cancelReason ?? "cancelled")
        : status === "timeout"
          ? `ran past its maximum duration of ${agreement.maxDurationS}s`
          : `exit code ${result.exitCode ?? "none"}${result.signal ? ` (signal ${result.signal})` : ""}`;

  // usage billing: outputs are collected before the final note so that their bytes are billed in
  // it (nothing is billed after it); they are sent after its voucher, as before.
  const outputs =
    start.spec.outputs.length === 0
      ? undefined
      : await collectOutputs(workDir, start.spec.outputs, {
          maxTotalBytes: MAX_JOB_OUTPUT_BYTES,
          maxFiles: 256,
        });
  if (streamOpen) for (const file of outputs?.files ?? []) egress.add(file.content.length);
  insertUsageEvents(store, egress.flush(Date.now()));

  await issueNote(true);
  if (streamOpen && status !== "suspended") {
    const wait = setTimeout(() => finalVoucher.resolve(), init.finalVoucherWaitMs);
    await finalVoucher.promise;
    clearTimeout(wait);
  }

  if (outputs !== undefined) {
    await send({
      type: "outputs",
      files: outputs.files.map((f) => ({ path: f.path, data: Buffer.from(f.content).toString("base64") })),
      dropped: outputs.dropped,
    });
  }
  await send({ type: "end", jobId, status, exitCode: result.exitCode, reason, jobAmount });
  finishJob(store, jobId, { status, exitCode: result.exitCode, reason, endedAt: Date.now() });
  logger.info("job ended", { status, amount: jobAmount });
  await channel.close();
  await reader;
  return { status, exitCode: result.exitCode, reason, jobAmount };
}
