import type { Hex } from "viem";
import { recoverVoucherSigner } from "../chain/voucher.ts";
import { type Agreement, agreement as agreementSchema } from "../messages/agreement.ts";
import { openEnvelope } from "../messages/envelope.ts";
import { type DebitNote, debitNote } from "../messages/receipt.ts";
import { priceNotes } from "./priceNotes.ts";

/** One named check of a job's billing trail, with what was found. */
export type AuditCheck = { name: string; ok: boolean; detail: string };

export type AuditJobReceiptsParameters = {
  chainId: number;
  /** The agreement as stored: the provider's envelope and the submitter's countersignature. */
  signatures: { provider: unknown; submitter: unknown };
  channelId: bigint;
  /** What the payer had signed on the channel before this job. */
  channelBase: bigint;
  /** Every stored note envelope of the job, with the submitter's verdict ("accepted" or a reason). */
  notes: readonly { seq: number; envelope: unknown; verdict: string }[];
  /** The vouchers the submitter signed for the job. */
  vouchers: readonly { cumulativeAmount: bigint; noteSeq: number; signature: string }[];
};

export type AuditJobReceiptsReturnType = {
  checks: AuditCheck[];
  /** The agreement, when its signatures hold. */
  agreement: Agreement | undefined;
  /** The accepted notes whose signatures hold, in seq order. */
  accepted: DebitNote[];
};

/** Problems listed in a check's detail; the rest are counted. */
const SHOWN_PROBLEMS = 3;

/**
 * Re-checks a job's whole billing trail from what was stored, trusting none of the stored figures:
 * the agreement's two signatures; every note envelope (signed by the agreement's provider, for this
 * chain, job and channel); every accepted note's amount recomputed with `priceNote` from its usage
 * and the agreed rate card (tiers, granularity, minimum charge; spot rates within the agreed maxima)
 * and its channel cumulative; seq continuity;
 * monotonic amounts and usage; each voucher signed by the payer for exactly its note's channel
 * cumulative, and a voucher for every accepted note. Envelope expiry is ignored: it bounds a
 * message's freshness in transit, not the validity of an audit record.
 */
export async function auditJobReceipts(p: AuditJobReceiptsParameters): Promise<AuditJobReceiptsReturnType> {
  const checks: AuditCheck[] = [];
  const agreement = await checkAgreement(p, checks);
  if (agreement === undefined) return { checks, agreement, accepted: [] };

  // Signatures of every stored note, accepted or refused.
  const problems: string[] = [];
  const opened = new Map<number, DebitNote>();
  /** Every note whose signature holds, refused ones too (the budget voucher answers one of those). */
  const signed = new Map<number, DebitNote>();
  for (const stored of p.notes) {
    const result = await openEnvelope(stored.envelope, {
      chainId: p.chainId,
      kind: "DebitNote",
      schema: debitNote,
      peerId: agreement.providerPeerId,
      now: 0,
    });
    if (!result.ok) problems.push(`note ${stored.seq}: ${result.reason} (${result.detail})`);
    else if (result.envelope.from !== agreement.provider)
      problems.push(`note ${stored.seq}: signed by ${result.envelope.from}, not the provider`);
    else if (result.value.seq !== stored.seq)
      problems.push(`note ${stored.seq}: the signed note says seq ${result.value.seq}`);
    else if (result.value.jobId !== agreement.jobId || result.value.channelId !== p.channelId)
      problems.push(`note ${stored.seq}: for job ${result.value.jobId} on channel ${result.value.channelId}`);
    else {
      signed.set(stored.seq, result.value);
      if (stored.verdict === "accepted") opened.set(stored.seq, result.value);
    }
  }
  checks.push(
    summarize(
      "note signatures",
      problems,
      `${p.notes.length} note(s) signed by the provider ${agreement.provider} on chain ${p.chainId}`,
    ),
  );
  const accepted = [...opened.values()].sort((a, b) => a.seq - b.seq);
  const acceptedCount = p.notes.filter((n) => n.verdict === "accepted").length;

  // Arithmetic, from usage and the agreed rate card only.
  // Each accepted note priced by the one rule (spot notes on the one before), checked field by field.
  const amountProblems = priceNotes({ agreement, channelBase: p.channelBase, notes: accepted }).problems;
  checks.push(
    summarize(
      "note amounts",
      amountProblems,
      `${accepted.length} accepted note(s) recomputed exactly from usage and the agreed rates (spot: each at its own rate, within the maxima)`,
    ),
  );

  // Continuity: the accepted notes are 0, 1, 2… with no gap, and every one of them opened.
  const seqProblems: string[] = [];
  if (accepted.length !== acceptedCount)
    seqProblems.push(`${acceptedCount - accepted.length} accepted note(s) failed their signature check`);
  accepted.forEach((note, i) => {
    if (note.seq !== i) seqProblems.push(`expected note ${i}, found ${note.seq}`);
  });
  checks.push(summarize("note sequence", seqProblems, `notes 0…${accepted.length - 1} without a gap`));

  const monotonic: string[] = [];
  for (let i = 1; i < accepted.length; i++) {
    const [before, after] = [accepted[i - 1] as DebitNote, accepted[i] as DebitNote];
    if (after.jobAmount < before.jobAmount || after.channelCumulative < before.channelCumulative)
      monotonic.push(`note ${after.seq}: amount went down`);
    const now = new Map(after.usage.map((u) => [u.meter, u.quantity]));
    for (const u of before.usage) {
      if ((now.get(u.meter) ?? 0n) < u.quantity) monotonic.push(`note ${after.seq}: ${u.meter} went down`);
    }
  }
  checks.push(summarize("monotonic amounts", monotonic, "cumulative amounts and usage never go down"));

  // Vouchers: exactly the channel cumulative of their note, signed by the payer.
  const voucherProblems: string[] = [];
  const bySeq = new Map(accepted.map((n) => [n.seq, n]));
  // One voucher covers every note with its amount: the store keeps one row per channel amount and
  // job, so a note that billed nothing new shares the previous note's voucher.
  const vouched = new Set<bigint>();
  for (const v of p.vouchers) {
    vouched.add(v.cumulativeAmount);
    const note = bySeq.get(v.noteSeq);
    // The budget voucher: the note that crossed the budget was refused, and paid exactly the budget,
    // below what it asked and above what was paid before it.
    const asked = signed.get(v.noteSeq);
    const paidBefore = accepted.filter((n) => n.seq < v.noteSeq).at(-1)?.channelCumulative ?? p.channelBase;
    const budgetVoucher =
      note === undefined &&
      asked !== undefined &&
      v.cumulativeAmount < asked.channelCumulative &&
      v.cumulativeAmount > paidBefore;
    if (note === undefined && !budgetVoucher) {
      voucherProblems.push(`voucher for ${v.cumulativeAmount}: no accepted note ${v.noteSeq}`);
      continue;
    }
    if (note !== undefined && v.cumulativeAmount !== note.channelCumulative)
      voucherProblems.push(
        `voucher for note ${v.noteSeq}: ${v.cumulativeAmount}, the note's channel cumulative is ${note.channelCumulative}`,
      );
    try {
      const signer = await recoverVoucherSigner({
        chainId: p.chainId,
        escrow: agreement.escrow,
        voucher: { channelId: p.channelId, cumulativeAmount: v.cumulativeAmount },
        signature: v.signature as Hex,
      });
      if (signer !== agreement.submitter)
        voucherProblems.push(`voucher for note ${v.noteSeq}: signed by ${signer}, not the payer`);
    } catch (error) {
      voucherProblems.push(`voucher for note ${v.noteSeq}: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  for (const note of accepted) {
    if (!vouched.has(note.channelCumulative))
      voucherProblems.push(`accepted note ${note.seq} has no signed voucher`);
  }
  checks.push(
    summarize(
      "vouchers match notes",
      voucherProblems,
      `${p.vouchers.length} voucher(s) signed by ${agreement.submitter}, each equal to its note's channel cumulative`,
    ),
  );
  return { checks, agreement, accepted };
}

async function checkAgreement(p: AuditJobReceiptsParameters, checks: AuditCheck[]) {
  const open = (raw: unknown, signerField: "provider" | "submitter") =>
    openEnvelope(raw, {
      chainId: p.chainId,
      kind: "Agreement",
      schema: agreementSchema,
      signerField,
      now: 0,
    });
  const [provider, submitter] = [
    await open(p.signatures.provider, "provider"),
    await open(p.signatures.submitter, "submitter"),
  ];
  const problems: string[] = [];
  if (!provider.ok) problems.push(`provider's signature: ${provider.reason} (${provider.detail})`);
  if (!submitter.ok) problems.push(`our countersignature: ${submitter.reason} (${submitter.detail})`);
  if (provider.ok && submitter.ok && provider.envelope.payload !== submitter.envelope.payload)
    problems.push("the two signatures are over different terms");
  const agreement = provider.ok ? provider.value : undefined;
  checks.push(
    summarize(
      "agreement signatures",
      problems,
      `signed by the provider ${agreement?.provider ?? "?"} and countersigned by ${agreement?.submitter ?? "?"}`,
    ),
  );
  return problems.length === 0 ? agreement : undefined;
}

function summarize(name: string, problems: readonly string[], okDetail: string): AuditCheck {
  if (problems.length === 0) return { name, ok: true, detail: okDetail };
  const shown = problems.slice(0, SHOWN_PROBLEMS).join("; ");
  const more = problems.length > SHOWN_PROBLEMS ? `; and ${problems.length - SHOWN_PROBLEMS} more` : "";
  return { name, ok: false, detail: `${shown}${more}` };
}
