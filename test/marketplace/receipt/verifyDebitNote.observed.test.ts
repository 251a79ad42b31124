import { describe, expect, it } from "vitest";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import type { Meter, Rate } from "../../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import { priceNote } from "../../../marketplace/receipt/priceNote.ts";
import { verifyDebitNote } from "../../../marketplace/receipt/verifyDebitNote.ts";
import { agreement, debitNote, GRID, HOUR_MS } from "../messages/fixtures.ts";

// An endpoint's notes are held to what the payer's gateway counted (DESIGN §12).
const RATES: Rate[] = [
  { meter: "gpu_ms", price: 2n * GRID, per: HOUR_MS },
  { meter: "requests", price: GRID / 100n, per: 1000n },
  { meter: "tokens", price: GRID / 1000n, per: 1000n },
];
const terms: Agreement = {
  ...agreement,
  rates: RATES,
  maxRates: RATES,
  gpus: 1,
  cpuCores: 1,
  granularity: "min",
  endpoint: { minReplicas: 0, maxReplicas: 1, meterToleranceMs: 1_000 },
};

function note(usage: Partial<Record<Meter, bigint>>): DebitNote {
  const priced = priceNote({
    agreement: terms,
    channelBase: 0n,
    rates: RATES,
    previous: undefined,
    totals: usage,
  });
  return {
    ...debitNote,
    usage: Object.entries(usage).map(([meter, quantity]) => ({
      meter: meter as Meter,
      quantity: quantity ?? 0n,
    })),
    rates: RATES,
    subtotal: priced.subtotal,
    jobAmount: priced.jobAmount,
    channelCumulative: priced.channelCumulative,
  };
}

const verify = (n: DebitNote, observed: Partial<Record<Meter, bigint>> | undefined) =>
  verifyDebitNote({
    note: n,
    agreement: terms,
    channelId: debitNote.channelId,
    channelBase: 0n,
    previous: undefined,
    elapsedMs: 2_000,
    budget: 100n * GRID,
    toleranceMs: 0,
    maxUsage: { requests: 1_000n, tokens: 1_000_000n },
    observed,
  });
const reason = (r: ReturnType<typeof verifyDebitNote>) => (r.ok ? "accepted" : r.reason);

describe("verifyDebitNote with the payer's own count", () => {
  it("takes a busy period rounded up to a minute after 2 s when the gateway counted it so", () => {
    // One 200 ms request at `min` granularity bills 60,000 GPU-ms: more than the time run, as agreed.
    const oneRequest = note({ gpu_ms: 60_000n, requests: 1n, tokens: 12n });
    expect(reason(verify(oneRequest, undefined))).toBe(
      "gpu_ms 60000 is more than possible in 2000 ms (2000)",
    );
    expect(verify(oneRequest, { gpu_ms: 60_000n, requests: 1n, tokens: 12n }).ok).toBe(true);
  });

  it("refuses requests, tokens or busy time above the count, in words", () => {
    const counted = { gpu_ms: 60_000n, requests: 2n, tokens: 24n };
    expect(reason(verify(note({ gpu_ms: 60_000n, requests: 3n, tokens: 24n }), counted))).toBe(
      "requests 3 is more than this side counted (2)",
    );
    expect(reason(verify(note({ gpu_ms: 60_000n, requests: 2n, tokens: 25n }), counted))).toBe(
      "tokens 25 is more than this side counted (24)",
    );
    expect(reason(verify(note({ gpu_ms: 120_000n, requests: 2n, tokens: 24n }), counted))).toBe(
      "gpu_ms 120000 is more than this side counted (60000)",
    );
  });

  it("keeps the order's ceiling where it is lower than the count", () => {
    const counted = { gpu_ms: 60_000n, requests: 5_000n, tokens: 24n };
    expect(reason(verify(note({ gpu_ms: 60_000n, requests: 1_001n, tokens: 24n }), counted))).toBe(
      "requests 1001 is above the order's ceiling (1000)",
    );
  });
});
