import { type Address, concat, type Hex, keccak256, stringToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { signVoucher } from "../../../marketplace/chain/voucher.ts";
import {
  insertNoteRecord,
  insertSubmitterJob,
  recordSignedVoucher,
  updateSubmitterJob,
  upsertChannel,
} from "../../../marketplace/client/submitterStore.ts";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import { type Envelope, signEnvelope } from "../../../marketplace/messages/envelope.ts";
import type { Granularity, Rate } from "../../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import { type PricedNoteState, priceNote } from "../../../marketplace/receipt/priceNote.ts";
import type { Store } from "../../../marketplace/store/openStore.ts";
import { agreement as baseAgreement, PEER_A, PEER_B } from "../messages/fixtures.ts";

/** A job billed for real: the agreement signed by both sides, signed notes, signed vouchers. */
export type BilledJob = {
  agreement: Agreement;
  signatures: { provider: Envelope; submitter: Envelope };
  notes: { note: DebitNote; envelope: Envelope }[];
  vouchers: { cumulativeAmount: bigint; noteSeq: number; signature: Hex }[];
};

export type BilledJobParameters = {
  chainId: number;
  escrow: Address;
  providerKey: Hex;
  submitterKey: Hex;
  channelId: bigint;
  channelBase?: bigint;
  jobId?: string;
  rates?: Rate[];
  granularity?: Granularity;
  minimumCharge?: bigint;
  /** The job's cumulative usage at each note, in order. */
  usages: Record<string, bigint>[];
  /** A spot agreement: each note's rates (same length as `usages`), never above `maxRates`. */
  spot?: { maxRates: Rate[]; noteRates: Rate[][] };
};

const EXPIRES = () => Math.floor(Date.now() / 1000) + 3600;

/**
 * Bills a job the way the provider's runJob and the submitter's runJobClient do: each note rates the
 * cumulative usage with the agreement's card, names the events it bills (one per meter that grew),
 * chains their hash, and is signed by the provider; each voucher is signed by the payer.
 */
export async function billedJob(p: BilledJobParameters): Promise<BilledJob> {
  const provider = privateKeyToAccount(p.providerKey);
  const submitter = privateKeyToAccount(p.submitterKey);
  const jobId = p.jobId ?? "job-billed-0001";
  const rates = p.rates ?? baseAgreement.rates;
  const agreement: Agreement = {
    ...baseAgreement,
    jobId,
    provider: provider.address,
    submitter: submitter.address,
    providerPeerId: PEER_A,
    submitterPeerId: PEER_B,
    escrow: p.escrow,
    rates,
    maxRates: p.spot?.maxRates ?? rates,
    pricing: p.spot === undefined ? "fixed" : "spot",
    granularity: p.granularity ?? "ms",
    ...(p.minimumCharge === undefined ? {} : { minimumCharge: p.minimumCharge }),
  };
  const signed = await signEnvelope(provider, {
    chainId: p.chainId,
    kind: "Agreement",
    peerId: PEER_A,
    expiresAt: EXPIRES(),
    payload: agreement,
  });
  const countersigned = await signEnvelope(submitter, {
    chainId: p.chainId,
    kind: "Agreement",
    peerId: PEER_B,
    expiresAt: signed.expiresAt,
    payload: JSON.parse(signed.payload),
  });
  const base = p.channelBase ?? 0n;
  const notes: BilledJob["notes"] = [];
  const vouchers: BilledJob["vouchers"] = [];
  let eventsHash: Hex = `0x${"00".repeat(32)}`;
  let before: Record<string, bigint> = {};
  let state: PricedNoteState | undefined;
  for (const [seq, usage] of p.usages.entries()) {
    const ids = Object.keys(usage)
      .filter((m) => (usage[m] ?? 0n) > (before[m] ?? 0n))
      .map((m) => `${jobId}:${m}:${seq}`);
    eventsHash = keccak256(concat([eventsHash, keccak256(stringToBytes(ids.join("\n")))]));
    const noteRates = p.spot?.noteRates[seq] ?? rates;
    const priced = priceNote({
      agreement,
      channelBase: base,
      rates: noteRates,
      previous: state,
      totals: usage,
    });
    state = priced.state;
    const { jobAmount, subtotal } = priced;
    const note: DebitNote = {
      jobId,
      channelId: p.channelId,
      seq,
      elapsedMs: (seq + 1) * 5_000,
      usage: Object.entries(usage).map(([meter, quantity]) => ({ meter: meter as "gpu_ms", quantity })),
      rates: noteRates,
      subtotal,
      jobAmount,
      channelCumulative: priced.channelCumulative,
      eventsHash,
      eventCount: ids.length,
      firstEventId: ids[0] ?? null,
      lastEventId: ids.at(-1) ?? null,
      final: seq === p.usages.length - 1,
    };
    const envelope = await signEnvelope(provider, {
      chainId: p.chainId,
      kind: "DebitNote",
      peerId: PEER_A,
      expiresAt: EXPIRES(),
      payload: note,
    });
    notes.push({ note, envelope });
    const signature = await signVoucher(submitter, {
      chainId: p.chainId,
      escrow: p.escrow,
      voucher: { channelId: p.channelId, cumulativeAmount: note.channelCumulative },
    });
    vouchers.push({ cumulativeAmount: note.channelCumulative, noteSeq: seq, signature });
    before = usage;
  }
  return { agreement, signatures: { provider: signed, submitter: countersigned }, notes, vouchers };
}

/** Stores a billed job in a submitter store as runJobClient would have: channel, job, notes, vouchers. */
export function storeBilledJob(
  store: Store,
  job: BilledJob,
  p: { channelAmount: bigint; channelBase?: bigint; budget: bigint; status?: string; signedAt?: number },
): void {
  const channelId = job.notes[0]?.note.channelId ?? 1n;
  upsertChannel(store, {
    channelId,
    escrow: job.agreement.escrow,
    provider: job.agreement.provider,
    amount: p.channelAmount,
    signed: p.channelBase ?? 0n,
    expiry: Math.floor(Date.now() / 1000) + 86_400,
    status: "open",
  });
  insertSubmitterJob(store, {
    jobId: job.agreement.jobId,
    provider: job.agreement.provider,
    channelId,
    channelBase: p.channelBase ?? 0n,
    agreement: JSON.stringify(job.signatures),
    spec: "{}",
    budget: p.budget,
    createdAt: Date.now(),
  });
  if (p.status !== undefined) {
    store.db.prepare("UPDATE jobs SET status = ? WHERE job_id = ?").run(p.status, job.agreement.jobId);
  }
  for (const { note, envelope } of job.notes) {
    insertNoteRecord(store, {
      jobId: note.jobId,
      seq: note.seq,
      envelope: JSON.stringify(envelope),
      amount: note.jobAmount,
      verdict: "accepted",
    });
  }
  for (const v of job.vouchers) {
    recordSignedVoucher(
      store,
      {
        channelId,
        cumulative: v.cumulativeAmount,
        signature: v.signature,
        jobId: job.agreement.jobId,
        noteSeq: v.noteSeq,
      },
      undefined,
      p.signedAt ?? Date.now(),
    );
  }
  const last = job.notes.at(-1)?.note;
  if (last !== undefined) updateSubmitterJob(store, job.agreement.jobId, { amount: last.jobAmount });
}
