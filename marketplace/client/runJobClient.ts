import { mkdir, open, realpath } from "node:fs/promises";
import { join } from "node:path";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { LocalAccount } from "viem";
import { signVoucher } from "../chain/voucher.ts";
import { BaseError } from "../errors/base.ts";
import { TransferError } from "../errors/transfer.ts";
import type { Agreement } from "../messages/agreement.ts";
import { type Envelope, openEnvelope, signEnvelope } from "../messages/envelope.ts";
import {
  type DroppedOutput,
  type JobEndReason,
  type JobEndStatus,
  type JobSpec,
  providerFrame,
} from "../messages/job.ts";
import type { MaxUsage } from "../messages/order.ts";
import type { Meter } from "../messages/primitives.ts";
import { type DebitNote, debitNote } from "../messages/receipt.ts";
import { JOB_PROTOCOL, MAX_JOB_FRAME_BYTES } from "../p2p/constants.ts";
import type { GridspotHost } from "../p2p/createHost.ts";
import { FrameError, frameChannel } from "../p2p/frames.ts";
import { verifyDebitNote } from "../receipt/verifyDebitNote.ts";
import type { Store } from "../store/openStore.ts";
import { createFileReceiver, type FileReceiver } from "../transfer/createFileReceiver.ts";
import type { LocalFile } from "../transfer/localInputManifest.ts";
import { sendFiles, type TransferProgress } from "../transfer/sendFiles.ts";
import type { BudgetAlerts } from "./budgetAlerts.ts";
import { SpendCapError, type SpendCaps } from "./spendCapRefusal.ts";
import {
  insertNoteRecord,
  listJobVouchers,
  recordSignedVoucher,
  updateSubmitterJob,
} from "./submitterStore.ts";

export class JobRefusedError extends BaseError {
  override name = "JobRefusedError";
}

export type JobEvents = {
  /** A piece of the job's output; `offset` is where it starts in its stream (the provider's count). */
  onLog?: (stream: "stdout" | "stderr", data: Buffer, offset?: number) => void;
  /** Attached again to a running job: whether it waits suspended, and log bytes no longer kept. */
  onAttached?: (suspended: boolean, logGap: { stdout: number; stderr: number }) => void;
  onNote?: (note: DebitNote, verdict: string) => void;
  onStatus?: (status: string, reason: string) => void;
  /** A budget alert or a failed alert delivery, as one line (the CLI writes it to stderr). */
  onAlert?: (message: string) => void;
  /** Input bytes sent or output bytes received so far, after each chunk. */
  onTransfer?: (direction: "inputs" | "outputs", progress: TransferProgress) => void;
};

export type RunJobClientParameters = {
  host: GridspotHost;
  store: Store;
  account: LocalAccount;
  chainId: number;
  agreement: Agreement;
  signatures: { provider: Envelope; submitter: Envelope };
  providerAddrs: string[];
  channelId: bigint;
  channelBase: bigint;
  budget: bigint;
  /** The order's ceilings on counted meters: no note above them is signed. */
  maxUsage?: MaxUsage | undefined;
  spec: JobSpec;
  /** The inputs' manifest (`localInputManifest`): signed in the start, then sent from disk. */
  inputs: readonly LocalFile[];
  outputDir: string;
  events?: JobEvents;
  /** Cancels the job: the provider stops it and sends its final note. */
  signal?: AbortSignal;
  /** Leaves the job: the stream is dropped, no cancel is sent (the payer agent stopping). */
  detach?: AbortSignal;
  /** The spend policy's caps, checked as each voucher is recorded. */
  caps?: SpendCaps;
  /** Budget alerts, raised as the job's signed amount grows. */
  alerts?: BudgetAlerts;
  /**
   * This side's own count of the meters it measures (an endpoint's gateway), for a note about to be
   * checked: once it caught up with the note or the agreement's tolerance passed. A note above it is
   * refused (see `verifyDebitNote`'s `observed`).
   */
  observe?: ((note: DebitNote) => Promise<Partial<Record<Meter, bigint>>>) | undefined;
  /**
   * Attach again to a job already started (the payer agent after a restart) instead of starting it:
   * the last note accepted, when it started by our clock, and the log bytes already held.
   */
  attach?: {
    previous: DebitNote | undefined;
    startedAt: number;
    logBytes: { stdout: number; stderr: number };
    /** Notes and vouchers of the earlier sessions (the result counts the whole job). */
    notes: number;
    vouchers: { cumulativeAmount: bigint; noteSeq: number }[];
  };
};

export type JobResult = {
  status: JobEndStatus | "lost";
  exitCode: number | null;
  reason: string;
  /** Why it ended, as the provider's code (`exit`, `timeout`, `oom`, `pids`, `disk-quota`, …). */
  reasonCode?: JobEndReason;
  /** The running time billed, by the provider's clock (epoch ms). */
  startedAt?: number;
  endedAt?: number;
  /** `docker` or `process`, and the image digest that ran (container jobs). */
  runtime?: string;
  imageDigest?: string;
  amount: bigint;
  usage: Record<string, bigint>;
  notes: number;
  vouchers: { cumulativeAmount: bigint; noteSeq: number }[];
  /** Where each output file that arrived (and matched its sha256) was written. */
  outputs: string[];
  /** Output files matched but not delivered, with the reason: the provider's and ours. */
  dropped: DroppedOutput[];
};

/**
 * The submitter's side of `/gridspot/job/1.0.0`: sends the signed start (the inputs' manifest), the
 * inputs from disk once the provider asks for them, shows the logs, checks every debit note and signs
 * the voucher for it (stored before it is sent), refuses a note that fails a check, and writes the
 * outputs under `outputDir/<jobId>/` as they stream in, folders kept, each checked against its
 * sha256; a file that cannot be written there or does not match is dropped and named.
 */
export async function runJobClient(p: RunJobClientParameters): Promise<JobResult> {
  const { host, store, account, chainId, agreement } = p;
  const jobId = agreement.jobId;
  const peer = peerIdFromString(agreement.providerPeerId);
  if (p.providerAddrs.length > 0)
    await host.peerStore.merge(peer, { multiaddrs: p.providerAddrs.map((a) => multiaddr(a)) });
  const stream = await host.dialProtocol(peer, JOB_PROTOCOL, { signal: AbortSignal.timeout(15_000) });
  const channel = frameChannel(stream, MAX_JOB_FRAME_BYTES);
  if (p.attach !== undefined) {
    const attach = await signEnvelope(account, {
      chainId,
      kind: "JobAttach",
      peerId: host.peerId.toString(),
      expiresAt: Math.floor(Date.now() / 1000) + 600,
      payload: { jobId, logOffsets: p.attach.logBytes },
    });
    await channel.write({ type: "attach", attach });
  } else {
    await channel.write({ type: "start", start: await signStart(p), agreement: p.signatures });
  }
  p.signal?.addEventListener(
    "abort",
    () => void channel.write({ type: "cancel", jobId, reason: "cancelled by the user" }).catch(() => {}),
    {
      once: true,
    },
  );
  // The payer agent stopping: the stream goes at once (no more vouchers), the job is not cancelled.
  const onDetach = () => channel.abort(new Error("the payer agent stopped"));
  if (p.detach?.aborted === true) onDetach();
  else p.detach?.addEventListener("abort", onDetach, { once: true });

  const result: JobResult = {
    status: "lost",
    exitCode: null,
    reason: "the provider's stream ended without a result",
    amount: p.attach?.previous?.jobAmount ?? 0n,
    usage: Object.fromEntries((p.attach?.previous?.usage ?? []).map((u) => [u.meter, u.quantity])),
    notes: p.attach?.notes ?? 0,
    vouchers: [...(p.attach?.vouchers ?? [])],
    outputs: [],
    dropped: [],
  };
  // Inputs go up while the frames are read, so a refusal mid-upload is heard at once; every chunk
  // sent counts as activity for the idle timeout. Outputs are written as their chunks come.
  const uploadStop = new AbortController();
  let upload: Promise<void> | undefined;
  let uploadError: Error | undefined;
  let activity: (() => void) | undefined;
  let outputs: FileReceiver | undefined;
  let startedAt = p.attach?.startedAt ?? Date.now();
  let previous: DebitNote | undefined = p.attach?.previous;
  let budgetSigned = false;
  /**
   * Signs, records and sends a voucher for exactly the budget against note `noteSeq` (which asked for
   * more); false when the spend caps refuse it.
   */
  const signBudget = async (noteSeq: number): Promise<boolean> => {
    const voucher = { channelId: p.channelId, cumulativeAmount: p.channelBase + p.budget };
    const signature = await signVoucher(account, { chainId, escrow: agreement.escrow, voucher });
    try {
      recordSignedVoucher(
        store,
        { channelId: p.channelId, cumulative: voucher.cumulativeAmount, signature, jobId, noteSeq },
        p.caps,
      );
    } catch (error) {
      if (error instanceof SpendCapError) return false;
      throw error;
    }
    result.amount = p.budget;
    result.vouchers.push({ cumulativeAmount: voucher.cumulativeAmount, noteSeq });
    updateSubmitterJob(store, jobId, { amount: p.budget });
    p.alerts?.observe({
      jobId,
      provider: agreement.provider,
      channelId: p.channelId,
      budget: p.budget,
      amount: p.budget,
      signed: true,
    });
    await channel.write({ type: "voucher", jobId, noteSeq, voucher: { ...voucher, signature } });
    return true;
  };
  const toleranceMs = agreement.receiptIntervalMs + 2_000;
  const idleTimeoutMs = Math.max(30_000, 4 * agreement.receiptIntervalMs * (agreement.graceIntervals + 1));
  try {
    for (;;) {
      // A provider sends a note every receipt interval: silence far beyond that means it is gone.
      // While the inputs go up it says nothing; each chunk sent restarts the clock.
      const idle = idleSignal(idleTimeoutMs);
      activity = idle.touch;
      const frame = await channel.read(providerFrame, { signal: idle.signal }).finally(() => {
        idle.clear();
        activity = undefined;
      });
      if (frame.type === "error")
        throw new JobRefusedError(`The provider refused the job: ${frame.code}`, { details: frame.message });
      if (frame.type === "send-inputs" && upload === undefined) {
        upload = sendFiles(channel, {
          files: p.inputs.map((f) => ({ path: f.path, size: f.size, open: () => openInput(f) })),
          frames: { chunk: "input-chunk", done: "inputs-done" },
          onProgress: (progress) => {
            activity?.();
            p.events?.onTransfer?.("inputs", progress);
          },
          signal: p.signal === undefined ? uploadStop.signal : AbortSignal.any([uploadStop.signal, p.signal]),
        }).then(
          () => {},
          (error: Error) => {
            if (uploadStop.signal.aborted || p.signal?.aborted === true) return;
            uploadError = error;
            // A stream that failed shows in the reads; a file that could not be read ends the job here.
            if (!(error instanceof FrameError)) channel.abort(error);
          },
        );
      } else if (frame.type === "outputs") {
        const root = join(p.outputDir, jobId);
        await mkdir(root, { recursive: true });
        result.dropped.push(...frame.dropped);
        outputs = await createFileReceiver({
          root: await realpath(root),
          files: frame.files,
          strict: false,
          what: "output",
          onProgress: (progress) => p.events?.onTransfer?.("outputs", progress),
        });
      } else if (frame.type === "output-chunk") {
        if (outputs === undefined)
          throw new TransferError("chunk-order", "an output chunk before the outputs");
        await outputs.chunk(frame);
      } else if (frame.type === "outputs-done" && outputs !== undefined) {
        const received = await outputs.finish();
        outputs = undefined;
        result.outputs = received.files.map((f) => f.target);
        result.dropped.push(...received.failed.map(({ path, reason, size }) => ({ path, reason, size })));
      } else if (frame.type === "attached") {
        p.events?.onAttached?.(frame.suspended, frame.logGap);
      } else if (frame.type === "started") {
        // Attached again, the job started long ago: the time meters' ceiling runs from then.
        if (p.attach === undefined) {
          startedAt = Date.now();
          updateSubmitterJob(store, jobId, { localStartedAt: startedAt });
        }
        result.startedAt = frame.startedAt;
        if (frame.runtime !== undefined) result.runtime = frame.runtime;
        if (frame.imageDigest !== undefined) result.imageDigest = frame.imageDigest;
        updateSubmitterJob(store, jobId, {
          startedAt: frame.startedAt,
          ...(frame.runtime === undefined ? {} : { runtime: frame.runtime }),
          ...(frame.imageDigest === undefined ? {} : { imageDigest: frame.imageDigest }),
        });
      } else if (frame.type === "log")
        p.events?.onLog?.(frame.stream, Buffer.from(frame.data, "base64"), frame.offset);
      else if (frame.type === "status") p.events?.onStatus?.(frame.status, frame.reason);
      else if (frame.type === "note") {
        const opened = await openEnvelope(frame.note, {
          chainId,
          kind: "DebitNote",
          schema: debitNote,
          peerId: agreement.providerPeerId,
        });
        if (!opened.ok || opened.envelope.from !== agreement.provider) {
          await channel.write({
            type: "refuse",
            jobId,
            noteSeq: previous === undefined ? 0 : previous.seq + 1,
            reason: "note not signed by the provider",
          });
          continue;
        }
        const note = opened.value;
        // Attached again, the provider re-sends the notes it holds no voucher for; one we signed
        // and stored before the last agent died (the voucher never left) is sent again as stored.
        if (previous !== undefined && note.seq <= previous.seq) {
          const stored = listJobVouchers(store, jobId).find(
            (v) => v.noteSeq === note.seq && v.cumulativeAmount === note.channelCumulative,
          );
          if (stored !== undefined) {
            await channel.write({
              type: "voucher",
              jobId,
              noteSeq: note.seq,
              voucher: {
                channelId: p.channelId,
                cumulativeAmount: stored.cumulativeAmount,
                signature: stored.signature as `0x${string}`,
              },
            });
            continue;
          }
        }
        const ownCount = await p.observe?.(note);
        const check = verifyDebitNote({
          observed: ownCount,
          note,
          agreement,
          channelId: p.channelId,
          channelBase: p.channelBase,
          previous,
          elapsedMs: Date.now() - startedAt,
          budget: p.budget,
          toleranceMs,
          maxUsage: p.maxUsage ?? {},
        });
        const record = (verdict: string) =>
          insertNoteRecord(store, {
            jobId,
            seq: note.seq,
            envelope: JSON.stringify(frame.note),
            amount: note.jobAmount,
            verdict,
          });
        record(check.ok ? "accepted" : check.reason);
        let refusal = check.ok ? undefined : check.reason;
        const voucher = { channelId: p.channelId, cumulativeAmount: note.channelCumulative };
        const signature =
          refusal === undefined
            ? await signVoucher(account, { chainId, escrow: agreement.escrow, voucher })
            : undefined;
        if (signature !== undefined) {
          try {
            // Durable before it leaves: a restarted CLI never signs below this, and knows it owes
            // it. The spend caps are checked in the same transaction; a refused signature is dropped.
            recordSignedVoucher(
              store,
              {
                channelId: p.channelId,
                cumulative: note.channelCumulative,
                signature,
                jobId,
                noteSeq: note.seq,
              },
              p.caps,
            );
          } catch (error) {
            if (!(error instanceof SpendCapError)) throw error;
            refusal = error.shortMessage;
            record(refusal);
          }
        }
        p.events?.onNote?.(note, refusal ?? "accepted");
        const observed = { jobId, provider: agreement.provider, channelId: p.channelId, budget: p.budget };
        if (refusal !== undefined || signature === undefined) {
          // At the budget: the provider is paid exactly the budget for this note's work (no unpaid
          // interval), and the job stops. Only a note that is right in every other way gets this.
          const signedSoFar = previous?.jobAmount ?? 0n;
          if (!check.ok && check.overBudget === true && !budgetSigned && p.budget > signedSoFar) {
            budgetSigned = await signBudget(note.seq);
          }
          if (budgetSigned) {
            await channel.write({ type: "cancel", jobId, reason: "budget reached: paid exactly the budget" });
            continue;
          }
          if (!check.ok && check.overBudget === true)
            p.alerts?.observe({ ...observed, amount: note.jobAmount, signed: false });
          await channel.write({ type: "refuse", jobId, noteSeq: note.seq, reason: refusal ?? "refused" });
          continue;
        }
        p.alerts?.observe({ ...observed, amount: note.jobAmount, signed: true });
        previous = note;
        result.notes += 1;
        result.amount = note.jobAmount;
        result.usage = Object.fromEntries(note.usage.map((u) => [u.meter, u.quantity]));
        updateSubmitterJob(store, jobId, {
          amount: note.jobAmount,
          usage: Object.fromEntries(note.usage.map((u) => [u.meter, u.quantity.toString()])),
        });
        result.vouchers.push({ cumulativeAmount: note.channelCumulative, noteSeq: note.seq });
        await channel.write({
          type: "voucher",
          jobId,
          noteSeq: note.seq,
          voucher: { ...voucher, signature },
        });
      } else if (frame.type === "end") {
        result.status = frame.status;
        result.exitCode = frame.exitCode;
        result.reason = frame.reason;
        if (frame.reasonCode !== undefined) result.reasonCode = frame.reasonCode;
        if (frame.startedAt !== undefined) result.startedAt = frame.startedAt;
        if (frame.endedAt !== undefined) result.endedAt = frame.endedAt;
        break;
      }
    }
  } catch (error) {
    if (error instanceof JobRefusedError) throw error;
    // An input that could not be read here is our problem, not a lost provider.
    if (uploadError !== undefined && !(uploadError instanceof FrameError)) throw uploadError;
    result.reason = `lost the provider: ${(error as Error).message.split("\n")[0]}`;
  } finally {
    p.detach?.removeEventListener("abort", onDetach);
    uploadStop.abort();
    await upload;
    await outputs?.abort();
    await channel.close();
  }
  return result;
}

/** An abort signal that fires `ms` after the last `touch()` (the first is at creation). */
function idleSignal(ms: number) {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error(`nothing from the provider for ${ms} ms`)), ms);
  };
  touch();
  return { signal: controller.signal, touch, clear: () => clearTimeout(timer) };
}

/** An input file opened for sending: the file the manifest was made from, or a clear error. */
async function openInput(file: LocalFile) {
  return open(file.source, "r").catch((error: Error) => {
    throw new TransferError("read-failed", `Cannot read the input ${file.source}`, { cause: error });
  });
}

/** The signed start: the agreement, the channel, what to run and the inputs' manifest. */
function signStart(p: RunJobClientParameters) {
  return signEnvelope(p.account, {
    chainId: p.chainId,
    kind: "JobStart",
    peerId: p.host.peerId.toString(),
    expiresAt: Math.floor(Date.now() / 1000) + 600,
    payload: {
      jobId: p.agreement.jobId,
      agreement: p.agreement,
      channelId: p.channelId,
      channelBase: p.channelBase,
      spec: p.spec,
      inputs: p.inputs.map((f) => ({
        path: f.path,
        size: f.size,
        sha256: f.sha256,
        ...(f.executable === true ? { executable: true } : {}),
      })),
    },
  });
}
