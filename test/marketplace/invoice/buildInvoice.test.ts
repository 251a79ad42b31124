import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { buildInvoice } from "../../../marketplace/invoice/buildInvoice.ts";
import { InvoiceError } from "../../../marketplace/invoice/errors.ts";
import { INVOICE_CSV_HEADER, invoiceToCsv } from "../../../marketplace/invoice/invoiceToCsv.ts";
import { toJsonValue } from "../../../marketplace/messages/json.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import { rateUsage } from "../../../marketplace/rating/rateUsage.ts";
import { ESCROW, GRID, HOUR_MS, PROVIDER_KEY, SUBMITTER_KEY } from "../messages/fixtures.ts";
import { type BilledJob, billedJob } from "../receipt/billedJob.ts";

const RATES: Rate[] = [
  {
    meter: "gpu_ms",
    price: GRID,
    per: HOUR_MS,
    tiers: {
      mode: "graduated",
      bands: [
        { upTo: HOUR_MS, price: 3n * GRID },
        { upTo: 2n * HOUR_MS, price: 2n * GRID },
      ],
    },
  },
  { meter: "cpu_core_ms", price: GRID / 50n, per: HOUR_MS },
];
const TX = `0x${"ab".repeat(32)}` as const;

let job: BilledJob;
beforeAll(async () => {
  job = await billedJob({
    chainId: 31337,
    escrow: ESCROW,
    providerKey: PROVIDER_KEY,
    submitterKey: SUBMITTER_KEY,
    channelId: 9n,
    channelBase: 500n,
    rates: RATES,
    granularity: "s",
    usages: [
      { gpu_ms: HOUR_MS / 2n, cpu_core_ms: 1_000n },
      { gpu_ms: 2n * HOUR_MS + 1n, cpu_core_ms: 2_500n, gpu_util_ms: HOUR_MS },
    ],
  });
});

const notes = () => job.notes.map((n) => n.note);
const vouchers = () =>
  job.vouchers.map((v) => ({ cumulativeAmount: v.cumulativeAmount, noteSeq: v.noteSeq, redeemTx: TX }));

describe("buildInvoice", () => {
  it("lists each band of a tiered meter and each flat meter, summing to the last note's amount", () => {
    const invoice = buildInvoice({ agreement: job.agreement, notes: notes(), vouchers: vouchers() });
    // 2 h + 1 ms rounds up to 2 h + 1 s: 1 h at 3, 1 h at 2, 1 s at 1 GRID/h; cpu 2.5 s → 3 s.
    expect(
      invoice.lines.map((l) => [l.meter, l.tier, l.upTo, l.quantity, l.billedQuantity, l.price, l.amount]),
    ).toEqual([
      ["gpu_ms", 1, HOUR_MS, HOUR_MS, HOUR_MS, 3n * GRID, 3n * GRID],
      ["gpu_ms", 2, 2n * HOUR_MS, HOUR_MS, HOUR_MS, 2n * GRID, 2n * GRID],
      ["gpu_ms", 3, null, 1n, 1_000n, GRID, GRID / 3_600n],
      ["cpu_core_ms", null, null, 2_500n, 3_000n, GRID / 50n, (3_000n * GRID) / 50n / HOUR_MS],
    ]);
    const last = job.notes[1]?.note as DebitNote;
    expect(invoice.total).toBe(last.jobAmount);
    expect(invoice.lines.reduce((s, l) => s + l.amount, 0n)).toBe(invoice.total);
    expect(invoice).toMatchObject({
      jobId: job.agreement.jobId,
      provider: job.agreement.provider,
      channelId: 9n,
      granularity: "s",
      minimumCharge: null,
      minimumChargeApplied: false,
      unrated: [{ meter: "gpu_util_ms", quantity: HOUR_MS }],
    });
  });

  it("traces events through notes to vouchers and their redeem transaction", () => {
    const invoice = buildInvoice({
      agreement: job.agreement,
      notes: [...notes()].reverse(),
      vouchers: vouchers(),
    });
    const [first, second] = job.notes.map((n) => n.note) as [DebitNote, DebitNote];
    expect(invoice.trace).toEqual({
      eventCount: first.eventCount + second.eventCount,
      firstEventId: `${job.agreement.jobId}:gpu_ms:0`,
      lastEventId: second.lastEventId,
      eventsHash: second.eventsHash,
      notes: [first, second].map((n) => ({
        seq: n.seq,
        jobAmount: n.jobAmount,
        channelCumulative: n.channelCumulative,
        eventsHash: n.eventsHash,
      })),
      vouchers: [
        { cumulativeAmount: 500n + first.jobAmount, noteSeq: 0, redeemTx: TX },
        { cumulativeAmount: 500n + second.jobAmount, noteSeq: 1, redeemTx: TX },
      ],
    });
  });

  it("adds a minimum-charge line so the lines still sum to the total", async () => {
    const small = await billedJob({
      chainId: 31337,
      escrow: ESCROW,
      providerKey: PROVIDER_KEY,
      submitterKey: SUBMITTER_KEY,
      channelId: 9n,
      rates: RATES,
      minimumCharge: GRID,
      usages: [{ gpu_ms: 1_000n }],
    });
    const invoice = buildInvoice({
      agreement: small.agreement,
      notes: small.notes.map((n) => n.note),
      vouchers: [],
    });
    const rated = rateUsage({ gpu_ms: 1_000n }, RATES, "ms").total;
    expect(invoice).toMatchObject({
      subtotal: rated,
      total: GRID,
      minimumCharge: GRID,
      minimumChargeApplied: true,
    });
    expect(invoice.lines.at(-1)).toEqual({
      meter: "minimum_charge",
      tier: null,
      upTo: null,
      quantity: 1n,
      billedQuantity: 1n,
      price: GRID - rated,
      per: 1n,
      amount: GRID - rated,
      floorFromTier: null,
    });
    expect(invoice.lines.reduce((s, l) => s + l.amount, 0n)).toBe(GRID);
  });

  it("takes what the last note asked above the payer's budget off as a budget_cap line", () => {
    const [first, second] = notes() as [DebitNote, DebitNote];
    // The payer's budget is reached in note 1: it signs exactly the budget for it, not the note.
    const budget = first.jobAmount + (second.jobAmount - first.jobAmount) / 2n;
    const paid = [
      { cumulativeAmount: first.channelCumulative, noteSeq: 0, redeemTx: null },
      { cumulativeAmount: 500n + budget, noteSeq: 1, redeemTx: TX },
    ];
    const invoice = buildInvoice({ agreement: job.agreement, notes: notes(), vouchers: paid });
    const full = buildInvoice({ agreement: job.agreement, notes: notes(), vouchers: vouchers() });
    // The usage lines are the note's, as billed in full; one line more takes the excess off.
    expect(invoice.lines.slice(0, -1)).toEqual(full.lines);
    expect(invoice.lines.at(-1)).toEqual({
      meter: "budget_cap",
      tier: null,
      upTo: null,
      quantity: 1n,
      billedQuantity: 1n,
      price: budget - second.jobAmount,
      per: 1n,
      amount: budget - second.jobAmount,
      floorFromTier: null,
    });
    expect(invoice).toMatchObject({ subtotal: full.subtotal, total: budget, budgetCapApplied: true });
    expect(full.budgetCapApplied).toBe(false);
    expect(invoice.lines.reduce((s, l) => s + l.amount, 0n)).toBe(budget);
    // The trace shows the note as asked and the voucher as paid.
    expect(invoice.trace.notes.at(-1)).toMatchObject({ seq: 1, jobAmount: second.jobAmount });
    expect(invoice.trace.vouchers.at(-1)).toEqual({
      cumulativeAmount: 500n + budget,
      noteSeq: 1,
      redeemTx: TX,
    });
    const csv = invoiceToCsv(invoice).split("\n");
    expect(csv.at(-1)).toBe(`budget_cap,,,1,1,${budget - second.jobAmount},1,${budget - second.jobAmount},,`);
    expect(csv.slice(1).reduce((s, r) => s + BigInt(r.split(",")[7] ?? "0"), 0n)).toBe(budget);
  });

  it("refuses a voucher for less than its note unless it is the last note's and pays more than before", () => {
    const [first, second] = notes() as [DebitNote, DebitNote];
    const build = (v: { cumulativeAmount: bigint; noteSeq: number }) => () =>
      buildInvoice({ agreement: job.agreement, notes: notes(), vouchers: [{ ...v, redeemTx: null }] });
    expect(build({ cumulativeAmount: first.channelCumulative - 1n, noteSeq: 0 })).toThrow(
      `the voucher for note 0 pays ${first.channelCumulative - 1n}, less than the note, but note 1 follows it`,
    );
    expect(build({ cumulativeAmount: first.channelCumulative, noteSeq: 1 })).toThrow(
      `the voucher for note 1 pays ${first.channelCumulative}, no more than was paid before it (${first.channelCumulative})`,
    );
    expect(build({ cumulativeAmount: second.channelCumulative, noteSeq: 1 })).not.toThrow();
  });

  it("bills nothing for a job without notes, minimum charge or not", () => {
    const invoice = buildInvoice({
      agreement: { ...job.agreement, minimumCharge: GRID },
      notes: [],
      vouchers: [],
    });
    expect(invoice).toMatchObject({ total: 0n, subtotal: 0n, minimumChargeApplied: false, channelId: null });
    expect(invoice.trace).toMatchObject({
      eventCount: 0,
      firstEventId: null,
      lastEventId: null,
      eventsHash: null,
    });
  });

  it("refuses notes that do not belong together or do not add up", () => {
    const [first, second] = notes() as [DebitNote, DebitNote];
    const build = (n: DebitNote[]) => () =>
      buildInvoice({ agreement: job.agreement, notes: n, vouchers: [] });
    expect(build([first, { ...second, jobId: "job-other-0001" }])).toThrow(
      /note 1 is for job job-other-0001/,
    );
    expect(build([{ ...first, channelId: 8n }, second])).toThrow(/note 0 is on channel 8, not 9/);
    expect(build([first, { ...first }])).toThrow(/two notes with seq 0/);
    expect(build([first, { ...second, jobAmount: second.jobAmount + 1n }])).toThrow(InvoiceError);
    expect(build([first, { ...second, jobAmount: second.jobAmount + 1n }])).toThrow(
      `note 1: bills ${second.jobAmount + 1n}, its usage rates to ${second.jobAmount}`,
    );
  });

  it("serialises to JSON with amounts as base-unit strings", () => {
    const json = toJsonValue(
      buildInvoice({ agreement: job.agreement, notes: notes(), vouchers: vouchers() }),
    ) as {
      total: string;
      lines: { amount: string }[];
    };
    expect(json.total).toBe((job.notes[1]?.note.jobAmount ?? 0n).toString());
    expect(typeof json.lines[0]?.amount).toBe("string");
  });

  it("sums its lines to its total for any usage (property)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n * HOUR_MS }),
        fc.bigInt({ min: 0n, max: 10n * HOUR_MS }),
        fc.bigInt({ min: 0n, max: 3n * GRID }),
        (gpu, cpu, minimumCharge) => {
          const agreement = { ...job.agreement, minimumCharge };
          const usage = { gpu_ms: gpu, cpu_core_ms: cpu };
          const jobAmount = rateUsage(usage, RATES, "s", { minimumCharge }).total;
          const { subtotal: _stated, ...first } = (job.notes[0] as { note: DebitNote }).note;
          const note: DebitNote = {
            ...first,
            usage: [
              { meter: "gpu_ms", quantity: gpu },
              { meter: "cpu_core_ms", quantity: cpu },
            ],
            jobAmount,
          };
          const invoice = buildInvoice({ agreement, notes: [note], vouchers: [] });
          expect(invoice.total).toBe(jobAmount);
          expect(invoice.lines.reduce((s, l) => s + l.amount, 0n)).toBe(jobAmount);
        },
      ),
    );
  });
});

describe("invoiceToCsv", () => {
  it("writes a header and one row per line in base units, empty cells for nulls", () => {
    const invoice = buildInvoice({ agreement: job.agreement, notes: notes(), vouchers: vouchers() });
    const rows = invoiceToCsv(invoice).split("\n");
    expect(rows[0]).toBe(INVOICE_CSV_HEADER.join(","));
    expect(rows[0]).toBe("meter,tier,up_to,quantity,billed_quantity,price,per,amount,from_note,to_note");
    expect(rows).toHaveLength(invoice.lines.length + 1);
    expect(rows[1]).toBe(`gpu_ms,1,${HOUR_MS},${HOUR_MS},${HOUR_MS},${3n * GRID},${HOUR_MS},${3n * GRID},,`);
    expect(rows[4]).toMatch(/^cpu_core_ms,,,2500,3000,20000000000000000,3600000,\d+,,$/);
    const sum = rows.slice(1).reduce((s, r) => s + BigInt(r.split(",")[7] ?? "0"), 0n);
    expect(sum).toBe(invoice.total);
  });
});
