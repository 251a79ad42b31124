import type { Address, Hex } from "viem";
import type { Rate as MessageRate, Pricing } from "../messages/primitives.ts";
import type { DebitNote } from "../messages/receipt.ts";
import { rateCardKey } from "../rating/rateCardKey.ts";
import { rateUsage } from "../rating/rateUsage.ts";
import type { Granularity, Rate } from "../rating/types.ts";
import { priceNotes } from "../receipt/priceNotes.ts";
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
    /** Default `fixed`. A spot invoice bills each price stretch at its own rate. */
    pricing?: Pricing | undefined;
    /** A spot agreement's maxima: every note's rates are checked against them when given. */
    maxRates?: readonly MessageRate[] | undefined;
  };
  /**
   * The job's signed debit notes the payer paid, parsed (any order; one per seq): each note a voucher
   * was signed for, the last one included when its voucher paid only part of it (the budget).
   */
  notes: readonly DebitNote[];
  /**
   * The vouchers signed for them, with the transaction that redeemed each, when known. A voucher for
   * less than its note (the payer's budget, reached in that note: it paid exactly the budget and
   * stopped the job) caps the bill; only the last note can be paid so.
   */
  vouchers: readonly { cumulativeAmount: bigint; noteSeq: number; redeemTx: Hex | null }[];
};

/**
 * A job's invoice from its signed debit notes, every one priced by `priceNote` (the rule the
 * provider and the payer use), so the invoice bills exactly what the last note asked for:
 * - fixed: the last note's cumulative usage rated with the agreement's rate card, one line per flat
 *   meter or per band of a tiered one;
 * - spot: one line per meter per price stretch (consecutive notes at the same rates, `stretch`
 *   naming the first and last note), each the usage billed in that stretch at its rate;
 * plus a minimum-charge line when the minimum applies, and a `budget_cap` line (negative) when the
 * last note's voucher paid only the payer's budget, so the lines always sum to the total owed; and
 * the trace from the events each note billed to the vouchers and their redeem transactions. Pure:
 * the submitter's CLI and the provider's API build the same invoice from the same notes.
 * @throws InvoiceError when the notes are for another job, mix channels, repeat or skip a seq, when
 * a note's figures are not what its usage prices to, or when a voucher that pays less than its note
 * is not for the last note or pays no more than the note before it.
 */
export function buildInvoice(p: BuildInvoiceParameters): Invoice {
  const { agreement } = p;
  const pricing = agreement.pricing ?? "fixed";
  const notes = [...p.notes].sort((a, b) => a.seq - b.seq);
  const last = notes.at(-1);
  for (const [i, note] of notes.entries()) {
    if (note.jobId !== agreement.jobId)
      throw new InvoiceError(`note ${note.seq} is for job ${note.jobId}, not ${agreement.jobId}`);
    if (note.channelId !== last?.channelId)
      throw new InvoiceError(`note ${note.seq} is on channel ${note.channelId}, not ${last?.channelId}`);
    if (i > 0 && notes[i - 1]?.seq === note.seq) throw new InvoiceError(`two notes with seq ${note.seq}`);
    if (pricing === "spot" && i === 0 && note.seq !== 0)
      throw new InvoiceError(`the notes start at ${note.seq}: a spot bill needs them all, from note 0`);
    if (pricing === "spot" && i > 0 && notes[i - 1]?.seq !== note.seq - 1)
      throw new InvoiceError(
        `note ${note.seq} does not follow note ${notes[i - 1]?.seq}: a spot bill needs them all`,
      );
  }
  // The channel base is what the first note asks for above its own job amount.
  const channelBase = notes[0] === undefined ? 0n : notes[0].channelCumulative - notes[0].jobAmount;
  const chain = priceNotes({
    agreement: {
      pricing,
      rates: agreement.rates as MessageRate[],
      granularity: agreement.granularity,
      minimumCharge: agreement.minimumCharge,
      ...(agreement.maxRates === undefined ? {} : { maxRates: [...agreement.maxRates] }),
    },
    channelBase,
    notes,
  });
  // Fixed: the last note sets the bill (each note is cumulative). Spot: every note adds to it.
  const wrong =
    pricing === "spot"
      ? chain.notes.find((n) => n.problem !== undefined)
      : [chain.notes.at(-1)].find((n) => n?.problem !== undefined);
  if (wrong !== undefined)
    throw new InvoiceError(`note ${wrong.note.seq}: ${wrong.problem} (priced with the agreed rate card)`);
  const priced = chain.notes.at(-1)?.price;
  const paidAtBudget = budgetPaid(notes, p.vouchers, channelBase);

  const totals: Record<string, bigint> = {};
  for (const u of last?.usage ?? []) totals[u.meter] = u.quantity;
  const rated = rateUsage(totals, agreement.rates, agreement.granularity);
  // No note, no bill: a minimum charge is owed only once the job was billed at all.
  const billed = priced?.jobAmount ?? 0n;
  const total = paidAtBudget ?? billed;
  const subtotal = priced?.subtotal ?? 0n;
  const minimumChargeApplied = priced?.minimumChargeApplied ?? false;

  const lines: InvoiceLine[] = pricing === "spot" ? stretchLines(chain.notes) : [];
  for (const line of pricing === "spot" ? [] : rated.lines) {
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
    const topUp = billed - subtotal;
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
  if (paidAtBudget !== undefined) {
    // What the last note asked for above the budget: the payer paid exactly its budget instead.
    const cut = total - billed;
    lines.push({
      meter: "budget_cap",
      tier: null,
      upTo: null,
      quantity: 1n,
      billedQuantity: 1n,
      price: cut,
      per: 1n,
      amount: cut,
      floorFromTier: null,
    });
  }

  return {
    jobId: agreement.jobId,
    provider: agreement.provider,
    channelId: last?.channelId ?? null,
    granularity: agreement.granularity,
    lines,
    pricing,
    subtotal,
    minimumCharge: agreement.minimumCharge ?? null,
    minimumChargeApplied,
    budgetCapApplied: paidAtBudget !== undefined,
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

/**
 * The job amount the payer's budget capped the bill at: the last note's voucher, for less than the
 * note asked (see `takeVoucher`'s `partial`), less the channel base; undefined when every voucher pays
 * its note in full. A voucher naming a note not given is left to the trace.
 */
function budgetPaid(
  notes: readonly DebitNote[],
  vouchers: BuildInvoiceParameters["vouchers"],
  channelBase: bigint,
): bigint | undefined {
  let paid: bigint | undefined;
  for (const v of vouchers) {
    const i = notes.findIndex((n) => n.seq === v.noteSeq);
    const note = notes[i];
    if (note === undefined || v.cumulativeAmount >= note.channelCumulative) continue;
    if (i !== notes.length - 1)
      throw new InvoiceError(
        `the voucher for note ${note.seq} pays ${v.cumulativeAmount}, less than the note, but note ${notes.at(-1)?.seq} follows it`,
      );
    const before = notes[i - 1]?.channelCumulative ?? channelBase;
    if (v.cumulativeAmount <= before)
      throw new InvoiceError(
        `the voucher for note ${note.seq} pays ${v.cumulativeAmount}, no more than was paid before it (${before})`,
      );
    paid = v.cumulativeAmount - channelBase;
  }
  return paid;
}

/**
 * Spot lines: notes in a row at the same rates make one stretch; each meter's stretch line sums the
 * notes' increments (which telescope, so it is the meter's charge between the stretch's ends).
 */
function stretchLines(priced: ReturnType<typeof priceNotes>["notes"]): InvoiceLine[] {
  const lines: InvoiceLine[] = [];
  let key: string | undefined;
  let current: InvoiceLine[] = [];
  for (const { note, price } of priced) {
    const k = rateCardKey(note.rates);
    if (k !== key) {
      key = k;
      current = price.stretch.map((l) => ({
        meter: l.meter,
        tier: null,
        upTo: null,
        quantity: 0n,
        billedQuantity: 0n,
        price: l.price,
        per: l.per,
        amount: 0n,
        floorFromTier: null,
        stretch: { fromSeq: note.seq, toSeq: note.seq },
      }));
      lines.push(...current);
    }
    for (const [i, l] of price.stretch.entries()) {
      const line = current[i] as InvoiceLine;
      line.quantity += l.quantity;
      line.billedQuantity += l.billedQuantity;
      line.amount += l.amount;
      if (line.stretch !== undefined) line.stretch.toSeq = note.seq;
    }
  }
  return lines;
}
