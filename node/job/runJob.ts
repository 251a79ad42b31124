import { mkdir, realpath, rm } from "node:fs/promises";
import { join } from "node:path";
import type { LocalAccount } from "viem";
import type { Logger } from "../../marketplace/log/createLogger.ts";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import type {
  JobAttach,
  JobEndReason,
  JobEndStatus,
  JobStart,
  SubmitterFrame,
} from "../../marketplace/messages/job.ts";
import type { Rate } from "../../marketplace/messages/primitives.ts";
import { MAX_JOB_FILES } from "../../marketplace/p2p/constants.ts";
import type { FrameChannel } from "../../marketplace/p2p/frames.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import type { EndpointRuntime } from "../endpoint/pickEndpointRuntime.ts";
import { type EndpointServing, startEndpointJob } from "../endpoint/startEndpointJob.ts";
import { USAGE_FILE_ENV, USAGE_FILE_NAME } from "../meter/constants.ts";
import { createEgressCounter, type EgressCounter } from "../meter/createEgressCounter.ts";
import { createGpuUsageSource } from "../meter/createGpuUsageSource.ts";
import { createJobMeter, type JobMeterHandle } from "../meter/createJobMeter.ts";
import { createJobUsageFileSource } from "../meter/createJobUsageFileSource.ts";
import type { UsageEvent } from "../meter/types.ts";
import { createReceipts } from "../receipt/createReceipts.ts";
import type { GpuReading } from "../resources/readGpuUsage.ts";
import { collectOutputs } from "../run/collectOutputs.ts";
import type { JobHandle, JobRuntime } from "../run/runtime.ts";
import { insertUsageEvents } from "../store/insertUsageEvents.ts";
import { finishJob, markJobStarted } from "../store/jobRecords.ts";
import { sendJobOutputs } from "../transfer/sendJobOutputs.ts";
import { attachFrames } from "./attachFrames.ts";
import { endOfJob } from "./endOfJob.ts";
import { createLogReplay, type LogStreamName } from "./logReplay.ts";
import { createPayerLink } from "./payerLink.ts";

export type RunJobComponents = {
  store: Store;
  account: LocalAccount;
  chainId: number;
  peerId: string;
  logger: Logger;
  /** How the node serves endpoints; needed to run an endpoint agreement. */
  endpoints?: EndpointServing | undefined;
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
  /**
   * What runs it: a job's runtime (Docker for an image, processes for a plain command) and the image
   * it runs in (the spec's, or the operator's default image; none on the process runtime); or, for
   * an endpoint (the spec's `endpoint`), how its replicas run.
   */
  run: BatchRun | { kind: "endpoint"; runtime: EndpointRuntime };
  /** Aborted when the payer asks to close the job's channel on-chain: the job stops (`payer-closed`). */
  signal?: AbortSignal | undefined;
  /** Called once the job runs, with the way a payer's new stream takes it over (see {@link AttachJob}). */
  onRunning?: ((job: { attach: AttachJob }) => void) | undefined;
};

/** A batch job's runtime and the image it runs in. */
export type BatchRun = { kind: "job"; runtime: JobRuntime; image?: string | undefined };

/**
 * Hands the job a payer's new stream, its `JobAttach` already checked (signed by the agreement's
 * submitter): false when the job is over and took no new stream.
 */
export type AttachJob = (channel: FrameChannel, attach: JobAttach) => Promise<boolean>;

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
 * suspends the job when vouchers stop coming and kills it after a second grace period (or, with the
 * agreement's `maxSuspendedS`, once suspended that long), and at the end sends the final note, the
 * outputs and the end status. The payer's stream may drop and a new one attach meanwhile: the job
 * runs on, and the payer gets what it missed (see `attach` below).
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

  const link = createPayerLink({ logger }, { channel });
  const send = async (frame: unknown) => {
    await link.send(frame);
  };

  const workDir = join(init.workRoot, jobId);
  await mkdir(workDir, { recursive: true });
  // The inputs are in the work dir already: jobService received and checked them before the start.
  // usage billing: the egress counter (log and output bytes that reached the payer).
  const egress = createEgressCounter({ jobId });
  // Every log byte is numbered and the last JOB_LOG_REPLAY_BYTES of each stream kept, for a payer
  // that attaches again. Egress is billed for what reached the payer live, never for a replay.
  const logs = createLogReplay();
  const sendLog = (stream: LogStreamName, chunk: Buffer) => {
    for (const { frame, bytes } of logs.append(stream, chunk)) {
      void link.send(frame).then((delivered) => {
        if (delivered) egress.add(bytes);
      });
    }
  };

  const onEvents = (events: UsageEvent[]) => {
    insertUsageEvents(store, events);
  };
  const onMeterError = (error: unknown) =>
    logger.warn("metering problem", { error: (error as Error).message });
  const onStdout = (chunk: Buffer) => sendLog("stdout", chunk);
  const onStderr = (chunk: Buffer) => sendLog("stderr", chunk);
  // A job's processes in its runtime, or an endpoint's replicas behind the node's proxy.
  const { handle, meter }: { handle: RunningWork; meter: WorkMeter } =
    parameters.run.kind === "endpoint"
      ? startEndpointJob(
          { serving: endpointServing(components.endpoints), logger },
          {
            jobId,
            agreement,
            spec: start.spec,
            runtime: parameters.run.runtime,
            gpuUuids: parameters.gpus.uuids,
            meterIntervalMs: init.meterIntervalMs,
            onEvents,
            onMeterError,
            sources: [egress],
            onStdout,
            onStderr,
          },
        )
      : await startBatchJob(
          { logger },
          init,
          { ...parameters, run: parameters.run },
          { workDir, egress, onEvents, onMeterError, onStdout, onStderr },
        );
  const startedAt = handle.startedAt;
  markJobStarted(store, jobId, {
    startedAt,
    runtime: handle.runtime,
    ...(handle.imageDigest === undefined ? {} : { imageDigest: handle.imageDigest }),
  });
  const started = {
    type: "started",
    jobId,
    startedAt,
    sandbox: handle.sandbox,
    runtime: handle.runtime,
    ...(handle.imageDigest === undefined ? {} : { imageDigest: handle.imageDigest }),
  };
  await send(started);
  logger.info("job started", { id: handle.id, runtime: handle.runtime, sandbox: handle.sandbox });

  meter.start();

  /** Why the job is suspended, as the payer was told; undefined while it runs. */
  let suspendedFor: string | undefined;
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
        await handle.suspend(reason);
        logger.warn(`${reason}: job suspended`);
        suspendedFor = reason;
        await send({ type: "status", status: "suspended", reason });
      },
      async resume(reason) {
        await handle.resume();
        await meter.resume();
        suspendedFor = undefined;
        await send({ type: "status", status: "resumed", reason });
      },
      kill: (reason) => void handle.cancel(reason),
    },
  );

  let cancelReason: string | undefined;
  const onFrame = async (frame: SubmitterFrame) => {
    if (frame.type === "voucher") await receipts.take(frame.noteSeq, frame.voucher);
    else if (frame.type === "cancel") {
      cancelReason = `cancelled by the submitter: ${frame.reason}`;
      void handle.cancel(cancelReason);
    } else if (frame.type === "refuse") {
      // No voucher will come for this note (a cap reached, or a check failed): the job is
      // suspended at once, and the watchdog ends it when the grace period passes without one.
      await receipts.refused(frame.noteSeq, frame.reason);
    }
  };
  // A dropped stream leaves the job running: the watchdog suspends it when notes go unanswered.
  link.listen({ onFrame, onLost: () => receipts.closed() });
  receipts.start();

  // The payer's new stream: what it missed is built now, synchronously, so that it goes before
  // every frame the job sends from here on, and after every one it sent before (to the old stream).
  const attach: AttachJob = async (newChannel, request) => {
    const unanswered = receipts.unanswered();
    const suspended = suspendedFor !== undefined;
    const frames = attachFrames({ jobId, request, started, logs, unanswered, suspendedFor });
    const taken = await link.attach(newChannel, frames);
    if (taken) logger.info("payer attached", { suspended, notes: unanswered.length });
    return taken;
  };
  parameters.onRunning?.({ attach });

  let payerClosed: string | undefined;
  const onPayerClose = () => {
    payerClosed = String(parameters.signal?.reason ?? "the payer asked to close the channel");
    void handle.cancel(payerClosed);
  };
  if (parameters.signal?.aborted === true) onPayerClose();
  else parameters.signal?.addEventListener("abort", onPayerClose, { once: true });

  const result = await handle.exited;
  receipts.halt();
  parameters.signal?.removeEventListener("abort", onPayerClose);
  await meter.stop();

  const { status, reason, reasonCode } = endOfJob(result, {
    payerClosed,
    watchdogKill: receipts.unpaidKill,
    suspendedTimeout: receipts.suspendedTimeout,
    refusedReason: receipts.refusedReason,
    cancelReason,
    maxDurationS: agreement.maxDurationS,
  });

  // A payer away when the job ends (its agent restarting, or asleep) may still come for the final
  // note and the outputs: the job waits for it as long as it would have waited suspended. Not after
  // the watchdog's kill (the payer had that wait already), nor once the payer closes the channel.
  if (
    !link.open &&
    agreement.maxSuspendedS !== undefined &&
    status !== "suspended" &&
    parameters.signal?.aborted !== true
  ) {
    logger.info("job over with its payer away: waiting for it to attach", {
      maxSuspendedS: agreement.maxSuspendedS,
    });
    await link.waitForPayer(agreement.maxSuspendedS * 1000, parameters.signal);
  }

  // usage billing: outputs are collected before the final note so that their bytes are billed in
  // it (nothing is billed after it); they are sent after its voucher, as before.
  const outputs =
    start.spec.outputs.length === 0
      ? undefined
      : await collectOutputs(workDir, start.spec.outputs, {
          maxTotalBytes: init.maxOutputBytes,
          maxFiles: MAX_JOB_FILES,
        });
  if (link.open && outputs !== undefined) egress.add(outputs.totalBytes);
  insertUsageEvents(store, egress.flush(Date.now()));

  await receipts.finish();
  if (link.open && status !== "suspended") await receipts.waitForFinalVoucher(init.finalVoucherWaitMs);

  // Outputs: the manifest, then each file streamed from the work dir in chunks, each write awaited;
  // only once the final note's voucher is stored (the payer has paid for the work that made them).
  // A job the payer stopped at its budget was paid that budget: its outputs are its own.
  const finalPaid = receipts.paidInFull;
  if (outputs !== undefined && link.open && !finalPaid) {
    logger.warn("outputs withheld: the final note has no voucher", { files: outputs.files.length });
  }
  if (outputs !== undefined && link.open && finalPaid) {
    await link.deliver(async (current) => {
      await sendJobOutputs(current, { workDir, outputs });
    });
  }
  // The record first: a payer attaching from now on is answered from it, with this same `end`.
  finishJob(store, jobId, { status, exitCode: result.exitCode, reason, reasonCode, endedAt: result.endedAt });
  logger.info("job ended", { status, reasonCode, amount: receipts.jobAmount });
  await link.close({
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

/** What `runJob` drives: a runtime's job, or an endpoint served as one. */
type RunningWork = Pick<
  JobHandle,
  "id" | "runtime" | "sandbox" | "imageDigest" | "startedAt" | "exited" | "cancel" | "resume" | "remove"
> & { suspend(reason: string): Promise<void> };
type WorkMeter = Pick<JobMeterHandle, "start" | "pause" | "resume"> & { stop(): Promise<unknown> };

/** The node's endpoint serving, which an endpoint agreement needs. */
function endpointServing(serving: EndpointServing | undefined): EndpointServing {
  if (serving === undefined) throw new Error("this node serves no endpoints");
  return serving;
}

/**
 * Starts a batch job's processes in its runtime, and its meter: CPU, memory and allocated GPU time,
 * egress, what the job reports itself in its usage file (only the meters its agreement lets it),
 * and GPU utilization where nvidia-smi reads it.
 */
async function startBatchJob(
  components: { logger: Logger },
  init: RunJobInit,
  parameters: RunJobParameters & { run: BatchRun },
  job: {
    workDir: string;
    egress: EgressCounter;
    onEvents: (events: UsageEvent[]) => void;
    onMeterError: (error: unknown) => void;
    onStdout: (chunk: Buffer) => void;
    onStderr: (chunk: Buffer) => void;
  },
): Promise<{ handle: RunningWork; meter: WorkMeter }> {
  const { logger } = components;
  const { start, agreement } = parameters;
  const { jobId } = start;
  // The file the job may report its own requests and tokens in, and where the job finds it.
  const realWorkDir = await realpath(job.workDir);
  const usageFile = join(realWorkDir, USAGE_FILE_NAME);
  const usageFileInJob = `${parameters.run.runtime.workDirInJob(realWorkDir)}/${USAGE_FILE_NAME}`;
  const handle = await parameters.run.runtime.start({
    jobId,
    ...(parameters.run.image === undefined ? {} : { image: parameters.run.image }),
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
    onStdout: job.onStdout,
    onStderr: job.onStderr,
  });
  const meter = createJobMeter({
    jobId,
    read: () => handle.sample(),
    gpus: agreement.gpus,
    cpuCores: agreement.cpuCores,
    ...(agreement.gpuClass === undefined ? {} : { gpuClass: agreement.gpuClass }),
    intervalMs: init.meterIntervalMs,
    onEvents: job.onEvents,
    onError: job.onMeterError,
    sources: [
      job.egress,
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
  return { handle, meter };
}
