import type { Agreement } from "../messages/agreement.ts";
import type { DebitNote } from "../messages/receipt.ts";
import { noteSubtotal, spotRatesProblem } from "../rating/noteSubtotal.ts";
import { rateCardKey } from "../rating/rateCardKey.ts";

/** `overBudget` marks the one refusal that is not a fault of the note: it asks for more than the budget. */
export type NoteCheck = { ok: true; amount: bigint } | { ok: false; reason: string; overBudget?: true };

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
 * job on this channel, it names the events it bills consistently, it uses the agreed rates, its
 * arithmetic is exact (tiers and minimum charge included), its usage is possible in the time the job
 * has run (by the submitter's own clock), and it stays within the budget.
 */
export function verifyDebitNote(p: VerifyDebitNoteParameters): NoteCheck {
  const { note, agreement, previous } = p;
  if (note.jobId !== agreement.jobId) return { ok: false, reason: "note for another job" };
  if (note.channelId !== p.channelId) return { ok: false, reason: "note for another channel" };
  const expectedSeq = previous === undefined ? 0 : previous.seq + 1;
  if (note.seq !== expectedSeq)
    return { ok: false, reason: `note ${note.seq} out of order (expected ${expectedSeq})` };
  const events = checkEventRange(note);
  if (events !== undefined) return { ok: false, reason: events };
  if (agreement.pricing === "fixed" && rateCardKey(agreement.rates) !== rateCardKey(note.rates))
    return { ok: false, reason: "rates differ from the agreement" };
  if (agreement.pricing === "spot") {
    // A spot rate may change at each note, never above the agreement's maximum.
    const problem = spotRatesProblem(note.rates, agreement.rates, agreement.maxRates);
    if (problem !== undefined) return { ok: false, reason: problem };
  }
  const totals = usageOf(note);
  const subtotal = noteSubtotal({
    pricing: agreement.pricing,
    rates: note.rates,
    granularity: agreement.granularity,
    totals,
    previous:
      previous === undefined
        ? undefined
        : { totals: usageOf(previous), subtotal: previous.subtotal ?? previous.jobAmount },
  });
  if (note.subtotal !== undefined && note.subtotal !== subtotal)
    return { ok: false, reason: `subtotal ${note.subtotal} should be ${subtotal}` };
  const minimum = agreement.minimumCharge ?? 0n;
  const expected = subtotal > minimum ? subtotal : minimum;
  if (expected !== note.jobAmount)
    return { ok: false, reason: `amount ${note.jobAmount} should be ${expected}` };
  if (note.channelCumulative !== p.channelBase + note.jobAmount)
    return { ok: false, reason: "channel cumulative is not base + job amount" };
  if (previous !== undefined) {
    if (note.jobAmount < previous.jobAmount) return { ok: false, reason: "job amount went down" };
    for (const u of previous.usage) {
      if ((totals[u.meter] ?? 0n) < u.quantity) return { ok: false, reason: `${u.meter} went down` };
    }
  }
  const elapsed = BigInt(Math.max(0, p.elapsedMs + p.toleranceMs));
  const gpus = BigInt(agreement.gpus);
  const bounds: Record<string, bigint> = {
    gpu_ms: gpus * elapsed,
    // Utilization-weighted GPU time can never exceed the allocated GPU time.
    gpu_util_ms: gpus * elapsed,
    cpu_core_ms: BigInt(agreement.cpuCores) * elapsed,
    mem_mib_ms: BigInt(agreement.memMiB) * elapsed,
  };
  for (const [meter, bound] of Object.entries(bounds)) {
    const q = totals[meter] ?? 0n;
    if (q > bound)
      return { ok: false, reason: `${meter} ${q} is more than possible in ${p.elapsedMs} ms (${bound})` };
  }
  if (note.jobAmount > p.budget)
    return { ok: false, reason: `amount ${note.jobAmount} exceeds the budget ${p.budget}`, overBudget: true };
  return { ok: true, amount: note.jobAmount };
}

/** A note that bills no event names none; one that bills events names the first and the last. */
function checkEventRange(note: DebitNote): string | undefined {
  const { eventCount, firstEventId, lastEventId } = note;
  if (eventCount === 0) {
    if (firstEventId !== null || lastEventId !== null) return "a note with no events names event ids";
    return undefined;
  }
  if (firstEventId === null || lastEventId === null)
    return `a note with ${eventCount} event(s) must name its first and last event`;
  if (eventCount === 1 && firstEventId !== lastEventId)
    return "a note with one event names two different events";
  return undefined;
}

function usageOf(note: DebitNote): Record<string, bigint> {
  const totals: Record<string, bigint> = {};
  for (const u of note.usage) totals[u.meter] = u.quantity;
  return totals;
}
