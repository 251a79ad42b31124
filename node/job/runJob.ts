import { mkdir, realpath, rm } from "node:fs/promises";
import { join } from "node:path";
import type { LocalAccount } from "viem";
import type { Logger } from "../../marketplace/log/createLogger.ts";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import {
  type JobEndReason,
  type JobEndStatus,
  type JobStart,
  submitterFrame,
} from "../../marketplace/messages/job.ts";
import type { Rate } from "../../marketplace/messages/primitives.ts";
import { MAX_JOB_FILES, MAX_LOG_CHUNK_BYTES } from "../../marketplace/p2p/constants.ts";
import type { FrameChannel } from "../../marketplace/p2p/frames.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { USAGE_FILE_ENV, USAGE_FILE_NAME } from "../meter/constants.ts";
import { createEgressCounter } from "../meter/createEgressCounter.ts";
import { createGpuUsageSource } from "../meter/createGpuUsageSource.ts";
import { createJobMeter } from "../meter/createJobMeter.ts";
import { createJobUsageFileSource } from "../meter/createJobUsageFileSource.ts";
import { createReceipts } from "../receipt/createReceipts.ts";
import type { GpuReading } from "../resources/readGpuUsage.ts";
import { collectOutputs } from "../run/collectOutputs.ts";
import type { JobRuntime } from "../run/runtime.ts";
import { insertUsageEvents } from "../store/insertUsageEvents.ts";
import { finishJob, markJobStarted } from "../store/jobRecords.ts";
import { insertJobTerms } from "../store/jobTerms.ts";
import { sendJobOutputs } from "../transfer/sendJobOutputs.ts";
import { endOfJob } from "./endOfJob.ts";

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
  /** Limits every job gets besides what its agreement sold (provider.json `runtime`). */
  limits: { pids: number; diskBytes: number };
  /** Keep the work dir (and container) after the job, for debugging; removed by default. */
  keepWorkDirs: boolean;
  /** How long to wait for the voucher of the final note before giving up on it. */
  finalVoucherWaitMs: number;
  /** The most input bytes a job may send (provider.json `limits.maxInputBytes`); checked by jobService. */
  maxInputBytes: number;
  /** The most output bytes sent back; matched files beyond it are dropped and named. */
  maxOutputBytes: number;
  /** Reads nvidia-smi to meter GPU utilization and memory of GPU jobs; no GPU metering without it. */
  readGpuUsage?: (() => Promise<GpuReading>) | undefined;
  /** The node's current rates for a spot agreement's job (from its pricing engine). */
  spotRates?: ((agreement: Agreement) => Rate[]) | undefined;
};

export type RunJobParameters = {
  channel: FrameChannel;
  start: JobStart;
  agreement: Agreement;
  /** The GPUs reserved for the job: nvidia-smi indices and their UUIDs. */
  gpus: { indices: number[]; uuids: string[] };
  /** The runtime chosen for the job (Docker for an image, processes for a plain command). */
  runtime: JobRuntime;
  /** The image it runs in (the spec's, or the operator's default image); none on the process runtime. */
  image?: string | undefined;
  /** Aborted when the payer asks to close the job's channel on-chain: the job stops (`payer-closed`). */
  signal?: AbortSignal | undefined;
};

export type JobOutcome = {
  status: JobEndStatus;
  exitCode: number | null;
  reason: string;
  reasonCode: JobEndReason;
  jobAmount: bigint;
};

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
  // The inputs are in the work dir already: jobService received and checked them before the start.
  // usage billing: the terms to rate the ledger with (reconciliation), the egress counter, and the
  // file the job may report its own requests and tokens in.
  insertJobTerms(store, { jobId, agreement });
  const egress = createEgressCounter({ jobId });
  const realWorkDir = await realpath(workDir);
  const usageFile = join(realWorkDir, USAGE_FILE_NAME);
  // Where the job finds that file, as it sees its work dir.
  const usageFileInJob = `${parameters.runtime.workDirInJob(realWorkDir)}/${USAGE_FILE_NAME}`;

  const handle = await parameters.runtime.start({
    jobId,
    ...(parameters.image === undefined ? {} : { image: parameters.image }),
    ...(start.spec.entrypoint === undefined ? {} : { entrypoint: start.spec.entrypoint }),
    command: start.spec.command,
    args: start.spec.args,
    env: { ...start.spec.env, [USAGE_FILE_ENV]: usageFileInJob },
    workDir: realWorkDir,
    gpus: parameters.gpus,
    // The limits are what the agreement sold: its cores, memory and duration, the operator's
    // process and disk limits; each runtime enforces every one of them.
    limits: {
      cpuCores: agreement.cpuCores,
      memMiB: agreement.memMiB,
      pids: init.limits.pids,
      diskBytes: init.limits.diskBytes,
      maxDurationMs: agreement.maxDurationS * 1000,
    },
    onStdout: (chunk: Buffer) => void sendLog("stdout", chunk),
    onStderr: (chunk: Buffer) => void sendLog("stderr", chunk),
  });
  const startedAt = handle.startedAt;
  markJobStarted(store, jobId, {
    startedAt,
    runtime: handle.runtime,
    ...(handle.imageDigest === undefined ? {} : { imageDigest: handle.imageDigest }),
  });
  async function sendLog(stream: "stdout" | "stderr", chunk: Buffer) {
    for (let i = 0; i < chunk.length; i += MAX_LOG_CHUNK_BYTES) {
      const part = chunk.subarray(i, i + MAX_LOG_CHUNK_BYTES);
      await send({ type: "log", stream, data: part.toString("base64") });
      if (streamOpen) egress.add(part.length);
    }
  }
  await send({
    type: "started",
    jobId,
    startedAt,
    sandbox: handle.sandbox,
    runtime: handle.runtime,
    ...(handle.imageDigest === undefined ? {} : { imageDigest: handle.imageDigest }),
  });
  logger.info("job started", { id: handle.id, runtime: handle.runtime, sandbox: handle.sandbox });

  const meter = createJobMeter({
    jobId,
    read: () => handle.sample(),
    gpus: agreement.gpus,
    cpuCores: agreement.cpuCores,
    ...(agreement.gpuClass === undefined ? {} : { gpuClass: agreement.gpuClass }),
    intervalMs: init.meterIntervalMs,
    onEvents: (events) => {
      insertUsageEvents(store, events);
    },
    onError: (error) => logger.warn("metering problem", { error: (error as Error).message }),
    sources: [
      egress,
      createJobUsageFileSource({
        jobId,
        path: usageFile,
        // Only what the agreement lets the job report itself (requests and tokens it prices).
        selfReported: agreement.selfReported ?? [],
        onWarning: (m, f) => logger.warn(m, f),
      }),
      ...(init.readGpuUsage === undefined || parameters.gpus.indices.length === 0
        ? []
        : [
            createGpuUsageSource({
              jobId,
              gpuIndices: parameters.gpus.indices,
              ...(agreement.gpuClass === undefined ? {} : { gpuClass: agreement.gpuClass }),
              read: init.readGpuUsage,
              onWarning: (m, f) => logger.warn(m, f),
            }),
          ]),
    ],
  });
  meter.start();

  const receipts = createReceipts(
    { store, account, chainId, peerId, logger },
    {
      agreement,
      channelId: start.channelId,
      channelBase: start.channelBase,
      startedAt,
      ...(init.spotRates === undefined ? {} : { spotRates: () => init.spotRates?.(agreement) ?? [] }),
    },
    {
      send,
      // The job's processes and its billed time stop together, and the submitter is told why.
      async suspend(reason) {
        await meter.pause();
        await handle.suspend();
        logger.warn(`${reason}: job suspended`);
        await send({ type: "status", status: "suspended", reason });
      },
      async resume(reason) {
        await handle.resume();
        await meter.resume();
        await send({ type: "status", status: "resumed", reason });
      },
      kill: (reason) => void handle.cancel(reason),
    },
  );

  let cancelReason: string | undefined;
  const reader = (async () => {
    for (;;) {
      const frame = await channel.read(submitterFrame);
      if (frame.type === "voucher") await receipts.take(frame.noteSeq, frame.voucher);
      else if (frame.type === "cancel") {
        cancelReason = `cancelled by the submitter: ${frame.reason}`;
        void handle.cancel(cancelReason);
      } else if (frame.type === "refuse") {
        // No voucher will come for this note (a cap reached, or a check failed): the job is
        // suspended at once, and the watchdog ends it when the grace period passes without one.
        await receipts.refused(frame.noteSeq, frame.reason);
      }
    }
  })().catch((error: Error) => {
    streamOpen = false;
    logger.info("submitter stream closed", { error: error.message.split("\n")[0] });
    receipts.closed();
  });
  receipts.start();

  let payerClosed: string | undefined;
  const onPayerClose = () => {
    payerClosed = String(parameters.signal?.reason ?? "the payer asked to close the channel");
    void handle.cancel(payerClosed);
  };
  if (parameters.signal?.aborted === true) onPayerClose();
  else parameters.signal?.addEventListener("abort", onPayerClose, { once: true });

  const result = await handle.exited;
  parameters.signal?.removeEventListener("abort", onPayerClose);
  await meter.stop();

  const { status, reason, reasonCode } = endOfJob(result, {
    payerClosed,
    watchdogKill: receipts.unpaidKill,
    refusedReason: receipts.refusedReason,
    cancelReason,
    maxDurationS: agreement.maxDurationS,
  });

  // usage billing: outputs are collected before the final note so that their bytes are billed in
  // it (nothing is billed after it); they are sent after its voucher, as before.
  const outputs =
    start.spec.outputs.length === 0
      ? undefined
      : await collectOutputs(workDir, start.spec.outputs, {
          maxTotalBytes: init.maxOutputBytes,
          maxFiles: MAX_JOB_FILES,
        });
  if (streamOpen && outputs !== undefined) egress.add(outputs.totalBytes);
  insertUsageEvents(store, egress.flush(Date.now()));

  await receipts.finish();
  if (streamOpen && status !== "suspended") await receipts.waitForFinalVoucher(init.finalVoucherWaitMs);

  // Outputs: the manifest, then each file streamed from the work dir in chunks, each write awaited;
  // only once the final note's voucher is stored (the payer has paid for the work that made them).
  // A job the payer stopped at its budget was paid that budget: its outputs are its own.
  const finalPaid = receipts.paidInFull;
  if (outputs !== undefined && streamOpen && !finalPaid) {
    logger.warn("outputs withheld: the final note has no voucher", { files: outputs.files.length });
  }
  if (outputs !== undefined && streamOpen && finalPaid) {
    await sendJobOutputs(channel, { workDir, outputs }).catch((error: Error) => {
      streamOpen = false;
      logger.warn("outputs not delivered", { error: error.message.split("\n")[0] });
    });
  }
  await send({
    type: "end",
    jobId,
    status,
    exitCode: result.exitCode,
    reason,
    reasonCode,
    startedAt: result.startedAt,
    endedAt: result.endedAt,
    jobAmount: receipts.jobAmount,
  });
  finishJob(store, jobId, { status, exitCode: result.exitCode, reason, reasonCode, endedAt: result.endedAt });
  logger.info("job ended", { status, reasonCode, amount: receipts.jobAmount });
  await channel.close();
  await reader;
  // Outputs are delivered: nothing of the job stays on the host (unless the operator keeps it).
  if (!init.keepWorkDirs) {
    await handle
      .remove()
      .catch((error: Error) => logger.warn("job cleanup failed", { error: error.message }));
    await rm(workDir, { recursive: true, force: true }).catch((error: Error) =>
      logger.warn("work dir not removed", { error: error.message }),
    );
  }
  return { status, exitCode: result.exitCode, reason, reasonCode, jobAmount: receipts.jobAmount };
}
