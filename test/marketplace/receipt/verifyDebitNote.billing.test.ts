import { describe, expect, it } from "vitest";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import { rateUsage } from "../../../marketplace/rating/rateUsage.ts";
import { verifyDebitNote } from "../../../marketplace/receipt/verifyDebitNote.ts";
import { agreement, debitNote, GRID, HOUR_MS } from "../messages/fixtures.ts";

const BASE = 100n;
const TIERED: Rate[] = [
  {
    meter: "gpu_ms",
    price: GRID,
    per: HOUR_MS,
    tiers: { mode: "graduated", bands: [{ upTo: 5_000n, price: 4n * GRID }] },
  },
  { meter: "cpu_core_ms", price: GRID / 50n, per: HOUR_MS },
];
const tieredAgreement: Agreement = {
  ...agreement,
  rates: TIERED,
  maxRates: TIERED,
  minimumCharge: 10n ** 15n,
};

/** A note for `usage` billed the way the provider's runJob bills it, with the agreement's card. */
function billed(a: Agreement, usage: Record<string, bigint>, fields: Partial<DebitNote> = {}): DebitNote {
  const total = rateUsage(usage, a.rates, a.granularity, { minimumCharge: a.minimumCharge }).total;
  return {
    ...debitNote,
    rates: a.rates,
    usage: Object.entries(usage).map(([meter, quantity]) => ({ meter: meter as "gpu_ms", quantity })),
    jobAmount: total,
    channelCumulative: BASE + total,
    ...fields,
  };
}

const check = (a: Agreement, note: DebitNote, previous?: DebitNote) =>
  verifyDebitNote({
    note,
    agreement: a,
    channelId: 7n,
    channelBase: BASE,
    previous,
    elapsedMs: 10_000,
    budget: GRID,
    toleranceMs: 0,
    maxUsage: {},
  });
const reason = (r: ReturnType<typeof verifyDebitNote>) => (r.ok ? "accepted" : r.reason);

describe("verifyDebitNote with tiers, a minimum charge and event ids", () => {
  it("accepts a note billed with the agreed tiers and minimum charge", () => {
    // 5,000 ms at 4 GRID/h + 5,000 ms at 1 GRID/h = 6,944,444,444,444,444; cpu adds 55,555,555,555,555.
    const note = billed(tieredAgreement, { gpu_ms: 10_000n, cpu_core_ms: 10_000n });
    expect(note.jobAmount).toBe(5_555_555_555_555_555n + 1_388_888_888_888_888n + 55_555_555_555_555n);
    expect(check(tieredAgreement, note)).toEqual({ ok: true, amount: note.jobAmount });
  });

  it("refuses a note that leaves out the minimum charge, and accepts the minimum on a small first note", () => {
    const small = billed(tieredAgreement, { gpu_ms: 1n });
    expect(small.jobAmount).toBe(10n ** 15n);
    expect(check(tieredAgreement, small).ok).toBe(true);
    const rated = rateUsage({ gpu_ms: 1n }, TIERED, "ms").total;
    const withoutMinimum = { ...small, jobAmount: rated, channelCumulative: BASE + rated };
    expect(reason(check(tieredAgreement, withoutMinimum))).toBe(`amount ${rated} should be ${10n ** 15n}`);
  });

  it("refuses a note billed flat where tiers were agreed, or with other tiers", () => {
    const note = billed(tieredAgreement, { gpu_ms: 10_000n });
    const flattened = { ...note, rates: TIERED.map(({ tiers: _t, ...r }) => r) };
    expect(reason(check(tieredAgreement, flattened))).toBe("rates differ from the agreement");
    const [gpu, cpu] = TIERED as [Rate, Rate];
    const otherBound = {
      ...gpu,
      tiers: { mode: "graduated" as const, bands: [{ upTo: 5_001n, price: 4n * GRID }] },
    };
    expect(reason(check(tieredAgreement, { ...note, rates: [otherBound, cpu] }))).toBe(
      "rates differ from the agreement",
    );
    const volume = {
      ...gpu,
      tiers: { mode: "volume" as const, bands: [{ upTo: 5_000n, price: 4n * GRID }] },
    };
    expect(reason(check(tieredAgreement, { ...note, rates: [volume, cpu] }))).toBe(
      "rates differ from the agreement",
    );
  });

  it("marks only the budget refusal as over budget", () => {
    const note = billed(tieredAgreement, { gpu_ms: 10_000n });
    const over = verifyDebitNote({
      note,
      agreement: tieredAgreement,
      channelId: 7n,
      channelBase: BASE,
      previous: undefined,
      elapsedMs: 10_000,
      budget: note.jobAmount - 1n,
      toleranceMs: 0,
      maxUsage: {},
    });
    expect(over).toEqual({
      ok: false,
      reason: `amount ${note.jobAmount} exceeds the budget ${note.jobAmount - 1n}`,
      overBudget: true,
    });
    expect(check(tieredAgreement, { ...note, jobAmount: 1n })).not.toHaveProperty("overBudget");
  });

  it("requires event ids exactly when the note bills events", () => {
    const note = billed(agreement, { gpu_ms: 10_000n });
    expect(check(agreement, { ...note, eventCount: 0, firstEventId: null, lastEventId: null }).ok).toBe(true);
    expect(
      check(agreement, { ...note, eventCount: 1, firstEventId: "j:gpu_ms:0", lastEventId: "j:gpu_ms:0" }).ok,
    ).toBe(true);
    const refused: [Partial<DebitNote>, string][] = [
      [
        { eventCount: 0, firstEventId: "j:gpu_ms:0", lastEventId: null },
        "a note with no events names event ids",
      ],
      [
        { eventCount: 0, firstEventId: null, lastEventId: "j:gpu_ms:0" },
        "a note with no events names event ids",
      ],
      [
        { eventCount: 3, firstEventId: null, lastEventId: null },
        "a note with 3 event(s) must name its first and last event",
      ],
      [
        { eventCount: 3, firstEventId: "j:gpu_ms:0", lastEventId: null },
        "a note with 3 event(s) must name its first and last event",
      ],
      [
        { eventCount: 1, firstEventId: "j:gpu_ms:0", lastEventId: "j:gpu_ms:1" },
        "a note with one event names two different events",
      ],
    ];
    for (const [fields, why] of refused) expect(reason(check(agreement, { ...note, ...fields }))).toBe(why);
  });
});
