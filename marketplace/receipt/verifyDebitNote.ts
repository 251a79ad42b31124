import type { Agreement } from "../messages/agreement.ts";
import type { DebitNote } from "../messages/receipt.ts";
import { rateUsage } from "../rating/rateUsage.ts";

export type NoteCheck = { ok: true; amount: bigint } | { ok: false; reason: string };

export type VerifyDebitNoteParameters = {
  note: DebitNote;
  agreement: Agreement;
  channelId: bigint;
  channelBase: bigint;
  /** The previous accepted note of this job, if any. */
  previous: DebitNote | undefined;
  /** Milliseconds since the submitter saw the job start, by its own clock. */
  elapsedMs: number;
  /** The most this job may cost; no voucher is signed above it. */
  budget: bigint;
  /** Slack for clock skew and sampling: added to every plausibility bound. */
  toleranceMs: number;
};

/**
 * The submitter's checks before it signs a voucher for a debit note: it is the next note of this
 * job on this channel, it uses the agreed rates, its arithmetic is exact, its usage is possible in
 * the time the job has run (by the submitter's own clock), and it stays within the budget.
 */
export function verifyDebitNote(p: VerifyDebitNoteParameters): NoteCheck {
  const { note, agreement, previous } = p;
  if (note.jobId !== agreement.jobId) return { ok: false, reason: "note for another job" };
  if (note.channelId !== p.channelId) return { ok: false, reason: "note for another channel" };
  const expectedSeq = previous === undefined ? 0 : previous.seq + 1;
  if (note.seq !== expectedSeq)
    return { ok: false, reason: `note ${note.seq} out of order (expected ${expectedSeq})` };
  const agreed = agreement.rates
    .map((r) => `${r.meter}:${r.price}/${r.per}`)
    .sort()
    .join(",");
  const used = note.rates
    .map((r) => `${r.meter}:${r.price}/${r.per}`)
    .sort()
    .join(",");
  if (agreed !== used) return { ok: false, reason: "rates differ from the agreement" };
  const totals: Record<string, bigint> = {};
  for (const u of note.usage) totals[u.meter] = u.quantity;
  const rated = rateUsage(totals, note.rates, agreement.granularity);
  if (rated.total !== note.jobAmount)
    return { ok: false, reason: `amount ${note.jobAmount} should be ${rated.total}` };
  if (note.channelCumulative !== p.channelBase + note.jobAmount)
    return { ok: false, reason: "channel cumulative is not base + job amount" };
  if (previous !== undefined) {
    if (note.jobAmount < previous.jobAmount) return { ok: false, reason: "job amount went down" };
    for (const u of previous.usage) {
      if ((totals[u.meter] ?? 0n) < u.quantity) return { ok: false, reason: `${u.meter} went down` };
    }
  }
  const elapsed = BigInt(Math.max(0, p.elapsedMs + p.toleranceMs));
  const bounds: Record<string, bigint> = {
    gpu_ms: BigInt(agreement.gpus) * elapsed,
    cpu_core_ms: BigInt(agreement.cpuCores) * elapsed,
    mem_mib_ms: BigInt(agreement.memMiB) * elapsed,
  };
  for (const [meter, bound] of Object.entries(bounds)) {
    const q = totals[meter] ?? 0n;
    if (q > bound)
      return { ok: false, reason: `${meter} ${q} is more than possible in ${p.elapsedMs} ms (${bound})` };
  }
  if (note.jobAmount > p.budget)
    return { ok: false, reason: `amount ${note.jobAmount} exceeds the budget ${p.budget}` };
  return { ok: true, amount: note.jobAmount };
}
