import { describe, expect, it } from "vitest";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import type { Meter } from "../../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import { rateUsage } from "../../../marketplace/rating/rateUsage.ts";
import {
  type VerifyDebitNoteParameters,
  verifyDebitNote,
} from "../../../marketplace/receipt/verifyDebitNote.ts";
import { agreement, debitNote, GRID } from "../messages/fixtures.ts";

const BASE = 100n;
// The fixture's amount, worked out by hand (see fixtures.ts).
const AMOUNT = 5_777_777_777_777_777n;

function check(overrides: Partial<VerifyDebitNoteParameters> = {}) {
  return verifyDebitNote({
    note: debitNote,
    agreement,
    channelId: 7n,
    channelBase: BASE,
    previous: undefined,
    elapsedMs: 10_000,
    budget: GRID,
    toleranceMs: 0,
    maxUsage: {},
    ...overrides,
  });
}

/** A note with `usage` whose amount and channel total are right, so only the property under test is off. */
function noteWith(usage: Partial<Record<Meter, bigint>>, fields: Partial<DebitNote> = {}): DebitNote {
  const base: DebitNote = { ...debitNote, ...fields };
  const entries = Object.entries(usage).map(([meter, quantity]) => ({ meter: meter as Meter, quantity }));
  const total = rateUsage(usage as Record<string, bigint>, base.rates, agreement.granularity).total;
  return { ...base, usage: entries, jobAmount: total, channelCumulative: BASE + total };
}

const refusal = (result: ReturnType<typeof verifyDebitNote>) => (result.ok ? "accepted" : result.reason);

describe("verifyDebitNote", () => {
  it("accepts a first note whose arithmetic, usage and budget check out", () => {
    expect(check()).toEqual({ ok: true, amount: AMOUNT });
  });

  it("accepts the next note in sequence with more usage", () => {
    const next = noteWith({ gpu_ms: 15_000n, cpu_core_ms: 30_000n, mem_mib_ms: 8192n * 15_000n }, { seq: 1 });
    expect(check({ note: next, previous: debitNote, elapsedMs: 15_000 }).ok).toBe(true);
  });

  it("refuses a note for another job or another channel", () => {
    expect(refusal(check({ note: { ...debitNote, jobId: "job-00000002" } }))).toBe("note for another job");
    expect(refusal(check({ channelId: 8n }))).toBe("note for another channel");
  });

  it("refuses notes out of order: a first note that is not 0, a replay, a gap", () => {
    expect(refusal(check({ note: { ...debitNote, seq: 1 } }))).toBe("note 1 out of order (expected 0)");
    expect(refusal(check({ previous: debitNote }))).toBe("note 0 out of order (expected 1)");
    expect(refusal(check({ note: { ...debitNote, seq: 2 }, previous: debitNote }))).toBe(
      "note 2 out of order (expected 1)",
    );
  });

  it("refuses rates that differ from the agreement in price, per, or the set of meters", () => {
    const [gpu, cpu, mem] = agreement.rates;
    if (gpu === undefined || cpu === undefined || mem === undefined) throw new Error("fixture");
    const variants = [
      [{ ...gpu, price: gpu.price + 1n }, cpu, mem],
      // The same price per unit written differently is still not the agreed rate.
      [{ ...gpu, price: gpu.price * 2n, per: gpu.per * 2n }, cpu, mem],
      [gpu, cpu],
      [gpu, cpu, mem, { meter: "egress_bytes" as const, price: 1n, per: 1n }],
    ];
    for (const rates of variants) {
      expect(refusal(check({ note: { ...debitNote, rates } }))).toBe("rates differ from the agreement");
    }
  });

  it("accepts the agreed rates listed in another order", () => {
    expect(check({ note: { ...debitNote, rates: [...debitNote.rates].reverse() } }).ok).toBe(true);
  });

  it("refuses an amount one base unit off either way", () => {
    for (const jobAmount of [AMOUNT + 1n, AMOUNT - 1n]) {
      expect(refusal(check({ note: { ...debitNote, jobAmount, channelCumulative: BASE + jobAmount } }))).toBe(
        `amount ${jobAmount} should be ${AMOUNT}`,
      );
    }
  });

  it("refuses a channel cumulative that is not base + job amount", () => {
    for (const channelCumulative of [BASE + AMOUNT + 1n, BASE + AMOUNT - 1n, AMOUNT]) {
      expect(refusal(check({ note: { ...debitNote, channelCumulative } }))).toBe(
        "channel cumulative is not base + job amount",
      );
    }
    expect(refusal(check({ channelBase: BASE + 1n }))).toBe("channel cumulative is not base + job amount");
  });

  it("refuses a job amount that goes down from the previous note", () => {
    const previous = { ...debitNote, jobAmount: AMOUNT + 1n };
    expect(refusal(check({ note: { ...debitNote, seq: 1 }, previous }))).toBe("job amount went down");
  });

  it("refuses usage that goes down, or disappears, from the previous note", () => {
    const previous = {
      ...debitNote,
      jobAmount: 0n,
      usage: [{ meter: "gpu_ms" as const, quantity: 10_001n }],
    };
    expect(refusal(check({ note: { ...debitNote, seq: 1 }, previous }))).toBe("gpu_ms went down");
    const withEgress = {
      ...debitNote,
      jobAmount: 0n,
      usage: [...debitNote.usage, { meter: "egress_bytes" as const, quantity: 5n }],
    };
    expect(refusal(check({ note: { ...debitNote, seq: 1 }, previous: withEgress }))).toBe(
      "egress_bytes went down",
    );
  });

  it.each([
    ["gpu_ms", 1n],
    // Utilization-weighted GPU time is bounded by the allocated GPU time.
    ["gpu_util_ms", 1n],
    ["cpu_core_ms", 4n],
    ["mem_mib_ms", 8192n],
  ] as const)(
    "refuses %s above (allocated × (elapsed + tolerance)), accepts it at the bound",
    (meter, units) => {
      const elapsedMs = 10_000;
      const toleranceMs = 250;
      const bound = units * BigInt(elapsedMs + toleranceMs);
      const at = noteWith({ ...totalsOf(debitNote), [meter]: bound });
      expect(check({ note: at, elapsedMs, toleranceMs }).ok).toBe(true);
      const over = noteWith({ ...totalsOf(debitNote), [meter]: bound + 1n });
      expect(refusal(check({ note: over, elapsedMs, toleranceMs }))).toBe(
        `${meter} ${bound + 1n} is more than possible in ${elapsedMs} ms (${bound})`,
      );
    },
  );

  it("refuses GPU time on an agreement without GPUs", () => {
    const cpuOnly: Agreement = { ...agreement, gpus: 0 };
    expect(refusal(check({ agreement: cpuOnly }))).toMatch(/^gpu_ms 10000 is more than possible/);
  });

  it("refuses any usage when the submitter's clock says the job has not run", () => {
    expect(refusal(check({ elapsedMs: -5_000, toleranceMs: 1_000 }))).toMatch(
      /is more than possible in -5000 ms \(0\)$/,
    );
  });

  it("refuses an amount above the budget, accepts one equal to it", () => {
    expect(refusal(check({ budget: AMOUNT - 1n }))).toBe(
      `amount ${AMOUNT} exceeds the budget ${AMOUNT - 1n}`,
    );
    expect(check({ budget: AMOUNT })).toEqual({ ok: true, amount: AMOUNT });
  });
});

function totalsOf(note: DebitNote): Partial<Record<Meter, bigint>> {
  return Object.fromEntries(note.usage.map((u) => [u.meter, u.quantity]));
}
