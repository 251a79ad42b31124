import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildInvoice } from "../../../marketplace/invoice/buildInvoice.ts";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import type { Granularity, Rate } from "../../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import { TIME_METERS } from "../../../marketplace/rating/meters.ts";
import { rateCardKey } from "../../../marketplace/rating/rateCardKey.ts";
import { type PricedNoteState, priceNote } from "../../../marketplace/receipt/priceNote.ts";
import { priceNotes } from "../../../marketplace/receipt/priceNotes.ts";
import { verifyDebitNote } from "../../../marketplace/receipt/verifyDebitNote.ts";
import { priceLedger } from "../../../node/settle/priceLedger.ts";
import { agreement as baseAgreement, debitNote } from "../messages/fixtures.ts";

const METERS = ["gpu_ms", "cpu_core_ms", "mem_mib_ms", "egress_bytes", "tokens"] as const;
const PERS = [1n, 1_000n, 3_600_000n, 1_000_000_000n];
const UNIT: Record<Granularity, bigint> = { ms: 1n, s: 1_000n, min: 60_000n };

const price = fc.bigInt({ min: 0n, max: 10n ** 19n });
const per = fc.constantFrom(...PERS);
const tiers = fc.option(
  fc.record({
    mode: fc.constantFrom("graduated" as const, "volume" as const),
    bands: fc
      .uniqueArray(fc.bigInt({ min: 1n, max: 10n ** 8n }), { minLength: 1, maxLength: 3 })
      .chain((bounds) =>
        fc.tuple(
          ...bounds.sort((a, b) => (a < b ? -1 : 1)).map((upTo) => price.map((p) => ({ upTo, price: p }))),
        ),
      ),
  }),
  { nil: undefined },
);

/** A job: its card, the rates of each note (spot: moving, below the maxima), and cumulative usage. */
const job = fc
  .record({
    pricing: fc.constantFrom("fixed" as const, "spot" as const),
    granularity: fc.constantFrom<Granularity>("ms", "s", "min"),
    minimumCharge: fc.option(fc.bigInt({ min: 1n, max: 10n ** 18n }), { nil: undefined }),
    meters: fc.uniqueArray(fc.constantFrom(...METERS), { minLength: 1, maxLength: 5 }),
    notes: fc.integer({ min: 1, max: 8 }),
    channelBase: fc.bigInt({ min: 0n, max: 10n ** 20n }),
  })
  .chain((j) =>
    fc.record({
      job: fc.constant(j),
      card: fc.tuple(
        ...j.meters.map((meter) =>
          fc.record({
            meter: fc.constant(meter),
            price,
            per,
            tiers: j.pricing === "fixed" ? tiers : fc.constant(undefined),
          }),
        ),
      ),
      // Spot: per note and meter, a price at most the maximum; `null` keeps the previous note's.
      moves: fc.array(
        fc.array(fc.option(price, { nil: null }), { minLength: j.meters.length, maxLength: j.meters.length }),
        {
          minLength: j.notes,
          maxLength: j.notes,
        },
      ),
      increments: fc.array(
        fc.array(fc.bigInt({ min: 0n, max: 5n * 10n ** 7n }), {
          minLength: j.meters.length,
          maxLength: j.meters.length,
        }),
        { minLength: j.notes, maxLength: j.notes },
      ),
    }),
  );

type Case = typeof job extends fc.Arbitrary<infer T> ? T : never;

function scenario(c: Case) {
  const rates: Rate[] = c.card.map(({ tiers: t, ...r }) => (t === undefined ? r : { ...r, tiers: t }));
  // Spot maxima: ten times each starting price (and at least 1 per per).
  const maxRates: Rate[] = rates.map((r) => ({ meter: r.meter, price: r.price * 10n + 1n, per: r.per }));
  const agreement: Agreement = {
    ...baseAgreement,
    gpus: 4,
    cpuCores: 64,
    memMiB: 1 << 20,
    pricing: c.job.pricing,
    granularity: c.job.granularity,
    rates,
    maxRates: c.job.pricing === "spot" ? maxRates : rates,
    ...(c.job.minimumCharge === undefined ? {} : { minimumCharge: c.job.minimumCharge }),
  };
  // The provider, as runJob's cutNote does it: priceNote on its own previous state.
  const notes: DebitNote[] = [];
  const noteRates: Rate[][] = [];
  let state: PricedNoteState | undefined;
  let current = rates;
  const totals: Record<string, bigint> = {};
  for (let seq = 0; seq < c.job.notes; seq++) {
    if (c.job.pricing === "spot") {
      current = current.map((r, i) => {
        const move = c.moves[seq]?.[i];
        const max = maxRates[i] as Rate;
        return move === null || move === undefined ? r : { ...r, price: move % (max.price + 1n) };
      });
    }
    for (const [i, meter] of c.job.meters.entries())
      totals[meter] = (totals[meter] ?? 0n) + (c.increments[seq]?.[i] ?? 0n);
    const priced = priceNote({
      agreement,
      channelBase: c.job.channelBase,
      rates: current,
      previous: state,
      totals: { ...totals },
    });
    state = priced.state;
    noteRates.push(current);
    notes.push({
      ...debitNote,
      jobId: agreement.jobId,
      seq,
      elapsedMs: 10 ** 9,
      usage: Object.entries(totals).map(([meter, quantity]) => ({ meter: meter as Rate["meter"], quantity })),
      rates: current,
      subtotal: priced.subtotal,
      jobAmount: priced.jobAmount,
      channelCumulative: priced.channelCumulative,
      eventCount: 0,
      firstEventId: null,
      lastEventId: null,
    });
  }
  return { agreement, notes, noteRates, totals };
}

describe("priceNote: provider, verifier, audit, invoice and reconciliation agree", () => {
  it("on random note chains (fixed and spot, tiers, minimum, granularity, moving rates)", () => {
    fc.assert(
      fc.property(job, (c) => {
        const { agreement, notes, totals } = scenario(c);
        const last = notes.at(-1) as DebitNote;
        // The payer's check before each voucher.
        notes.forEach((note, i) => {
          const check = verifyDebitNote({
            note,
            agreement,
            channelId: note.channelId,
            channelBase: c.job.channelBase,
            previous: notes[i - 1],
            elapsedMs: 10 ** 12,
            budget: 2n ** 255n,
            toleranceMs: 0,
            maxUsage: { egress_bytes: 10n ** 12n, tokens: 10n ** 12n, requests: 10n ** 12n },
          });
          expect(check).toEqual({ ok: true, amount: note.jobAmount });
        });
        // `job verify` (auditJobReceipts re-prices the chain with priceNotes).
        expect(priceNotes({ agreement, channelBase: c.job.channelBase, notes }).problems).toEqual([]);
        // Both sides' invoice: the total is the last note's, and the lines sum to it.
        const invoice = buildInvoice({ agreement, notes, vouchers: [] });
        expect(invoice.total).toBe(last.jobAmount);
        expect(invoice.lines.reduce((s, l) => s + l.amount, 0n)).toBe(invoice.total);
        // Reconciliation: the ledger (the last note's totals) prices to the last note.
        expect(priceLedger({ card: agreement, notes, totals })).toBe(last.jobAmount);
        expect(last.channelCumulative).toBe(c.job.channelBase + last.jobAmount);
      }),
      { numRuns: 300 },
    );
  });

  it("stays within one base unit per meter per price stretch of the exact spot amount", () => {
    fc.assert(
      fc.property(
        job.filter((c) => c.job.pricing === "spot"),
        (c) => {
          const { agreement, notes, noteRates } = scenario(c);
          // Exact: Σ over notes of the billed increment × that note's price / per, over DEN.
          let exactNum = 0n;
          const DEN = 10n ** 9n * 3_600_000n; // a multiple of every `per`
          let before: Record<string, bigint> = {};
          let stretches = 0;
          notes.forEach((note, i) => {
            const rates = noteRates[i] as Rate[];
            if (i === 0 || rateCardKey(rates) !== rateCardKey(noteRates[i - 1] as Rate[])) stretches++;
            const now: Record<string, bigint> = {};
            for (const u of note.usage) now[u.meter] = billed(u.meter, u.quantity, agreement.granularity);
            for (const r of rates)
              exactNum += ((now[r.meter] ?? 0n) - (before[r.meter] ?? 0n)) * r.price * (DEN / r.per);
            before = now;
          });
          const subtotal = notes.at(-1)?.subtotal ?? 0n;
          const slack = BigInt(stretches * agreement.rates.length);
          expect(subtotal * DEN - exactNum < slack * DEN).toBe(true);
          expect(exactNum - subtotal * DEN < slack * DEN).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

function billed(meter: string, q: bigint, g: Granularity): bigint {
  if (!(TIME_METERS as readonly string[]).includes(meter)) return q;
  const unit = UNIT[g];
  return ((q + unit - 1n) / unit) * unit;
}
