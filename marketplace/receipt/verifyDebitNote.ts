import type { Agreement } from "../messages/agreement.ts";
import type { MaxUsage } from "../messages/order.ts";
import type { Meter } from "../messages/primitives.ts";
import type { DebitNote } from "../messages/receipt.ts";
import { TIME_METERS } from "../rating/meters.ts";
import { rateCardKey } from "../rating/rateCardKey.ts";
import { noteTotals } from "./noteTotals.ts";
import { priceNote } from "./priceNote.ts";
import { spotRatesProblem } from "./spotRatesProblem.ts";

/** The words of a refusal for billing more than this side's own count (`observed`). */
export const ABOVE_OWN_COUNT = "more than this side counted";

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
  /** The order's ceilings on the counted meters (its `maxUsage`); a counted meter without one bills nothing. */
  maxUsage: MaxUsage;
  /**
   * The payer's own count of the meters it measures itself (an endpoint's gateway, DESIGN §12):
   * each replaces that meter's time bound (an endpoint's busy periods are rounded one by one, so
   * they may bill more than the time run) and lowers a counted meter's ceiling to it.
   */
  observed?: Partial<Record<Meter, bigint>> | undefined;
};

/**
 * The submitter's checks before it signs a voucher for a debit note: it is the next note of this
 * job on this channel, it names the events it bills consistently, it uses the agreed rates, its
 * arithmetic is what `priceNote` makes of it (tiers, minimum charge, spot stretches), every meter is
 * within its ceiling (time meters: the allocation × the time the job has run by the submitter's own
 * clock; counted meters: the order's `maxUsage`, none billed without one), and it stays within the
 * budget.
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
  const totals = noteTotals(note);
  // The previous note was checked when it came: its stated subtotal is the one it was priced at.
  const priced = priceNote({
    agreement,
    channelBase: p.channelBase,
    rates: note.rates,
    totals,
    previous:
      previous === undefined
        ? undefined
        : { totals: noteTotals(previous), subtotal: previous.subtotal ?? previous.jobAmount },
  });
  if (note.subtotal !== undefined && note.subtotal !== priced.subtotal)
    return { ok: false, reason: `subtotal ${note.subtotal} should be ${priced.subtotal}` };
  if (priced.jobAmount !== note.jobAmount)
    return { ok: false, reason: `amount ${note.jobAmount} should be ${priced.jobAmount}` };
  if (note.channelCumulative !== priced.channelCumulative)
    return { ok: false, reason: "channel cumulative is not base + job amount" };
  if (previous !== undefined) {
    if (note.jobAmount < previous.jobAmount) return { ok: false, reason: "job amount went down" };
    for (const u of previous.usage) {
      if ((totals[u.meter] ?? 0n) < u.quantity) return { ok: false, reason: `${u.meter} went down` };
    }
  }
  const ceiling = usageCeilings(agreement, p.elapsedMs + p.toleranceMs, p.maxUsage);
  for (const [meter, count] of Object.entries(p.observed ?? {}) as [Meter, bigint][]) {
    const bound = ceiling[meter];
    ceiling[meter] = TIME_METERS.includes(meter) || bound === undefined || count < bound ? count : bound;
  }
  // Every meter the note shows is bounded: a priced one so the payer never pays for the impossible,
  // an observed one (gpu_util_ms) because a provider reporting the impossible is not to be trusted.
  const meters = new Set([...Object.keys(totals), ...note.rates.map((r) => r.meter as string)]);
  for (const meter of meters) {
    const q = totals[meter] ?? 0n;
    const priced = note.rates.some(
      (r) => r.meter === meter && (r.price > 0n || (r.tiers?.bands.some((b) => b.price > 0n) ?? false)),
    );
    const bound = ceiling[meter as keyof typeof ceiling];
    if (bound === undefined) {
      if (priced && q > 0n)
        return { ok: false, reason: `${meter} is billed but the order set no ceiling for it (maxUsage)` };
      continue;
    }
    if (q > bound) {
      const why =
        p.observed?.[meter as Meter] === bound
          ? ABOVE_OWN_COUNT
          : TIME_METERS.includes(meter as Meter)
            ? `more than possible in ${p.elapsedMs} ms`
            : "above the order's ceiling";
      return { ok: false, reason: `${meter} ${q} is ${why} (${bound})` };
    }
  }
  if (note.jobAmount > p.budget)
    return { ok: false, reason: `amount ${note.jobAmount} exceeds the budget ${p.budget}`, overBudget: true };
  return { ok: true, amount: note.jobAmount };
}

/**
 * The most of each meter a note may show: time meters by the allocation × the time run (with the
 * tolerance), counted meters by the order's `maxUsage`. `gpu_mem_mib_ms` has no ceiling (the agreement
 * sells no VRAM amount), so a note cannot bill it.
 */
function usageCeilings(agreement: Agreement, elapsedMs: number, maxUsage: MaxUsage) {
  const elapsed = BigInt(Math.max(0, Math.ceil(elapsedMs)));
  const gpus = BigInt(agreement.gpus);
  const ceilings: Partial<Record<Meter, bigint>> = {
    gpu_ms: gpus * elapsed,
    // Utilization-weighted GPU time can never exceed the allocated GPU time.
    gpu_util_ms: gpus * elapsed,
    cpu_core_ms: BigInt(agreement.cpuCores) * elapsed,
    mem_mib_ms: BigInt(agreement.memMiB) * elapsed,
  };
  for (const meter of ["egress_bytes", "requests", "tokens"] as const) {
    const max = maxUsage[meter];
    if (max !== undefined) ceilings[meter] = max;
  }
  return ceilings;
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
