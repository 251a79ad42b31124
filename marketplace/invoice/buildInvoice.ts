import type { Address, Hex } from "viem";
import type { DebitNote } from "../messages/receipt.ts";
import { rateUsage } from "../rating/rateUsage.ts";
import type { Granularity, Rate } from "../rating/types.ts";
import { InvoiceError } from "./errors.ts";
import type { Invoice, InvoiceLine } from "./types.ts";

export type BuildInvoiceParameters = {
  /** The agreement's parties and rate card (an `Agreement` fits). */
  agreement: {
    jobId: string;
    provider: Address;
    granularity: Granularity;
    rates: readonly Rate[];
    minimumCharge?: bigint | undefined;
  };
  /** The job's signed debit notes, parsed (any order; one per seq). */
  notes: readonly DebitNote[];
  /** The vouchers signed for them, with the transaction that redeemed each, when known. */
  vouchers: readonly { cumulativeAmount: bigint; noteSeq: number; redeemTx: Hex | null }[];
};

/**
 * A job's invoice from its signed debit notes: the last note's cumulative usage rated with the
 * agreement's rate card (one line per flat meter or per band of a tiered one, plus a minimum-charge
 * line when the minimum applies, so the lines sum to the total), and the trace from the events each
 * note billed to the vouchers and their redeem transactions. Pure: the submitter's CLI and the
 * provider's API build the same invoice from the same notes.
 * @throws InvoiceError when the notes are for another job, mix channels, repeat a seq, or when the
 * last note's amount is not what its usage rates to.
 */
export function buildInvoice(p: BuildInvoiceParameters): Invoice {
  const { agreement } = p;
  const notes = [...p.notes].sort((a, b) => a.seq - b.seq);
  const last = notes.at(-1);
  for (const [i, note] of notes.entries()) {
    if (note.jobId !== agreement.jobId)
      throw new InvoiceError(`note ${note.seq} is for job ${note.jobId}, not ${agreement.jobId}`);
    if (note.channelId !== last?.channelId)
      throw new InvoiceError(`note ${note.seq} is on channel ${note.channelId}, not ${last?.channelId}`);
    if (i > 0 && notes[i - 1]?.seq === note.seq) throw new InvoiceError(`two notes with seq ${note.seq}`);
  }

  const totals: Record<string, bigint> = {};
  for (const u of last?.usage ?? []) totals[u.meter] = u.quantity;
  const rated = rateUsage(totals, agreement.rates, agreement.granularity, {
    minimumCharge: agreement.minimumCharge,
  });
  // No note, no bill: a minimum charge is owed only once the job was billed at all.
  const total = last === undefined ? 0n : rated.total;
  const minimumChargeApplied = last !== undefined && rated.minimumChargeApplied;
  if (last !== undefined && last.jobAmount !== total) {
    throw new InvoiceError(
      `note ${last.seq} bills ${last.jobAmount} but its usage rates to ${total} with the agreed rate card`,
    );
  }

  const lines: InvoiceLine[] = [];
  for (const line of rated.lines) {
    const flat = { meter: line.meter, per: line.per };
    if (line.tiers === undefined) {
      lines.push({
        ...flat,
        tier: null,
        upTo: null,
        quantity: line.quantity,
        billedQuantity: line.billedQuantity,
        price: line.price,
        amount: line.amount,
        floorFromTier: null,
      });
      continue;
    }
    for (const t of line.tiers) {
      lines.push({
        ...flat,
        tier: t.tier,
        upTo: t.upTo,
        quantity: t.quantity,
        billedQuantity: t.billedQuantity,
        price: t.price,
        amount: t.amount,
        floorFromTier: t.floorFromTier,
      });
    }
  }
  if (minimumChargeApplied) {
    const topUp = total - rated.subtotal;
    lines.push({
      meter: "minimum_charge",
      tier: null,
      upTo: null,
      quantity: 1n,
      billedQuantity: 1n,
      price: topUp,
      per: 1n,
      amount: topUp,
      floorFromTier: null,
    });
  }

  return {
    jobId: agreement.jobId,
    provider: agreement.provider,
    channelId: last?.channelId ?? null,
    granularity: agreement.granularity,
    lines,
    subtotal: last === undefined ? 0n : rated.subtotal,
    minimumCharge: agreement.minimumCharge ?? null,
    minimumChargeApplied,
    total,
    unrated: rated.unrated,
    trace: {
      eventCount: notes.reduce((n, note) => n + note.eventCount, 0),
      firstEventId: notes.find((n) => n.firstEventId !== null)?.firstEventId ?? null,
      lastEventId: notes.findLast((n) => n.lastEventId !== null)?.lastEventId ?? null,
      eventsHash: last?.eventsHash ?? null,
      notes: notes.map((n) => ({
        seq: n.seq,
        jobAmount: n.jobAmount,
        channelCumulative: n.channelCumulative,
        eventsHash: n.eventsHash,
      })),
      vouchers: [...p.vouchers]
        .sort((a, b) => a.noteSeq - b.noteSeq)
        .map((v) => ({ cumulativeAmount: v.cumulativeAmount, noteSeq: v.noteSeq, redeemTx: v.redeemTx })),
    },
  };
}
