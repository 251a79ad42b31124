import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { LocalAccount } from "viem";
import { signVoucher } from "../chain/voucher.ts";
import { BaseError } from "../errors/base.ts";
import type { Agreement } from "../messages/agreement.ts";
import { type Envelope, openEnvelope, signEnvelope } from "../messages/envelope.ts";
import { type JobEndStatus, type JobSpec, providerFrame } from "../messages/job.ts";
import { type DebitNote, debitNote } from "../messages/receipt.ts";
import { JOB_PROTOCOL, MAX_JOB_FRAME_BYTES } from "../p2p/constants.ts";
import type { GridspotHost } from "../p2p/createHost.ts";
import { frameChannel } from "../p2p/frames.ts";
import { verifyDebitNote } from "../receipt/verifyDebitNote.ts";
import type { Store } from "../store/openStore.ts";
import type { BudgetAlerts } from "./budgetAlerts.ts";
import { SpendCapError, type SpendCaps } from "./spendCapRefusal.ts";
import { insertNoteRecord, recordSignedVoucher, updateSubmitterJob } from "./submitterStore.ts";

export class JobRefusedError extends BaseError {
  override name = "JobRefusedError";
}

export type JobEvents = {
  onLog?: (stream: "stdout" | "stderr", data: Buffer) => void;
  onNote?: (note: DebitNote, verdict: string) => void;
  onStatus?: (status: string, reason: string) => void;
  /** A budget alert or a failed alert delivery, as one line (the CLI writes it to stderr). */
  onAlert?: (message: string) => void;
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
  spec: JobSpec;
  inputs: { path: string; data: Uint8Array }[];
  outputDir: string;
  events?: JobEvents;
  signal?: AbortSignal;
  /** The spend policy's caps, checked as each voucher is recorded. */
  caps?: SpendCaps;
  /** Budget alerts, raised as the job's signed amount grows. */
  alerts?: BudgetAlerts;
};

export type JobResult = {
  status: JobEndStatus | "lost";
  exitCode: number | null;
  reason: string;
  amount: bigint;
  usage: Record<string, bigint>;
  notes: number;
  vouchers: { cumulativeAmount: bigint; noteSeq: number }[];
  outputs: string[];
};

/**
 * The submitter's side of `/gridspot/job/1.0.0`: sends the signed start, shows the logs, checks every
 * debit note and signs the voucher for it (stored before it is sent), refuses a note that fails a
 * check, and writes the outputs under `outputDir/<jobId>/`.
 */
export async function runJobClient(p: RunJobClientParameters): Promise<JobResult> {
  const { host, store, account, chainId, agreement } = p;
  const jobId = agreement.jobId;
  const peer = peerIdFromString(agreement.providerPeerId);
  if (p.providerAddrs.length > 0)
    await host.peerStore.merge(peer, { multiaddrs: p.providerAddrs.map((a) => multiaddr(a)) });
  const stream = await host.dialProtocol(peer, JOB_PROTOCOL, { signal: AbortSignal.timeout(15_000) });
  const channel = frameChannel(stream, MAX_JOB_FRAME_BYTES);
  const start = await signEnvelope(account, {
    chainId,
    kind: "JobStart",
    peerId: host.peerId.toString(),
    expiresAt: Math.floor(Date.now() / 1000) + 600,
    payload: {
      jobId,
      agreement,
      channelId: p.channelId,
      channelBase: p.channelBase,
      spec: p.spec,
      inputs: p.inputs.map((f) => ({ path: f.path, data: Buffer.from(f.data).toString("base64") })),
    },
  });
  await channel.write({ type: "start", start, agreement: p.signatures });
  p.signal?.addEventListener(
    "abort",
    () => void channel.write({ type: "cancel", jobId, reason: "cancelled by the user" }).catch(() => {}),
    {
      once: true,
    },
  );

  const result: JobResult = {
    status: "lost",
    exitCode: null,
    reason: "the provider's stream ended without a result",
    amount: 0n,
    usage: {},
    notes: 0,
    vouchers: [],
    outputs: [],
  };
  let startedAt = Date.now();
  let previous: DebitNote | undefined;
  const toleranceMs = agreement.receiptIntervalMs + 2_000;
  const idleTimeoutMs = Math.max(30_000, 4 * agreement.receiptIntervalMs * (agreement.graceIntervals + 1));
  try {
    for (;;) {
      // A provider sends a note every receipt interval: silence far beyond that means it is gone.
      const frame = await channel.read(providerFrame, { signal: AbortSignal.timeout(idleTimeoutMs) });
      if (frame.type === "error")
        throw new JobRefusedError(`The provider refused the job: ${frame.code}`, { details: frame.message });
      if (frame.type === "started") startedAt = Date.now();
      else if (frame.type === "log") p.events?.onLog?.(frame.stream, Buffer.from(frame.data, "base64"));
      else if (frame.type === "status") p.events?.onStatus?.(frame.status, frame.reason);
      else if (frame.type === "outputs")
        result.outputs = await writeOutputs(join(p.outputDir, jobId), frame.files);
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
        const check = verifyDebitNote({
          note,
          agreement,
          channelId: p.channelId,
          channelBase: p.channelBase,
          previous,
          elapsedMs: Date.now() - startedAt,
          budget: p.budget,
          toleranceMs,
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
        break;
      }
    }
  } catch (error) {
    if (error instanceof JobRefusedError) throw error;
    result.reason = `lost the provider: ${(error as Error).message.split("\n")[0]}`;
  } finally {
    await channel.close();
  }
  return result;
}

/** Writes output files under `dir`, refusing any path that would land outside it. */
async function writeOutputs(dir: string, files: { path: string; data: string }[]): Promise<string[]> {
  const root = resolve(dir);
  const written: string[] = [];
  for (const file of files) {
    const target = resolve(root, file.path);
    if (!target.startsWith(root + sep)) continue;
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, Buffer.from(file.data, "base64"));
    written.push(target);
  }
  return written;
}
