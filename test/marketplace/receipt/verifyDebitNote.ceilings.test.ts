import { describe, expect, it } from "vitest";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import type { MaxUsage } from "../../../marketplace/messages/order.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import { priceNote } from "../../../marketplace/receipt/priceNote.ts";
import { verifyDebitNote } from "../../../marketplace/receipt/verifyDebitNote.ts";
import { agreement, debitNote, GRID, HOUR_MS } from "../messages/fixtures.ts";

// The cheat: a provider that prices egress at 0.001 GRID per byte next to its GPU-hour.
const EGRESS: Rate = { meter: "egress_bytes", price: GRID / 1000n, per: 1n };
const RATES: Rate[] = [{ meter: "gpu_ms", price: 2n * GRID, per: HOUR_MS }, EGRESS];
const terms: Agreement = { ...agreement, rates: RATES, maxRates: RATES, gpus: 1, cpuCores: 1 };

/** A note whose arithmetic is right, so only its usage is under test. */
function note(usage: Record<string, bigint>, rates: Rate[] = RATES, a: Agreement = terms): DebitNote {
  const priced = priceNote({ agreement: a, channelBase: 0n, rates, previous: undefined, totals: usage });
  return {
    ...debitNote,
    usage: Object.entries(usage).map(([meter, quantity]) => ({ meter: meter as Rate["meter"], quantity })),
    rates,
    subtotal: priced.subtotal,
    jobAmount: priced.jobAmount,
    channelCumulative: priced.channelCumulative,
  };
}

const verify = (n: DebitNote, maxUsage: MaxUsage, a: Agreement = terms) =>
  verifyDebitNote({
    note: n,
    agreement: a,
    channelId: debitNote.channelId,
    channelBase: 0n,
    previous: undefined,
    elapsedMs: 3_000,
    budget: 100n * GRID,
    toleranceMs: 0,
    maxUsage,
  });
const reason = (r: ReturnType<typeof verifyDebitNote>) => (r.ok ? "accepted" : r.reason);

describe("verifyDebitNote ceilings", () => {
  it("refuses billed egress the order set no ceiling for (1.5 GRID of egress on a 3 s job)", () => {
    const cheat = note({ gpu_ms: 3_000n, egress_bytes: 1_500n });
    expect(cheat.jobAmount).toBeGreaterThan((3n * GRID) / 2n);
    expect(reason(verify(cheat, {}))).toBe(
      "egress_bytes is billed but the order set no ceiling for it (maxUsage)",
    );
  });

  it("takes counted meters up to the order's ceiling and refuses them above it", () => {
    expect(verify(note({ gpu_ms: 3_000n, egress_bytes: 1_000n }), { egress_bytes: 1_000n }).ok).toBe(true);
    expect(reason(verify(note({ gpu_ms: 3_000n, egress_bytes: 1_001n }), { egress_bytes: 1_000n }))).toBe(
      "egress_bytes 1001 is above the order's ceiling (1000)",
    );
  });

  it("bounds every time meter by the allocation × the time run", () => {
    expect(reason(verify(note({ gpu_ms: 3_001n }), {}))).toBe(
      "gpu_ms 3001 is more than possible in 3000 ms (3000)",
    );
    const cpu: Rate[] = [{ meter: "cpu_core_ms", price: GRID, per: HOUR_MS }];
    const a = { ...terms, rates: cpu, maxRates: cpu };
    expect(reason(verify(note({ cpu_core_ms: 3_001n }, cpu, a), {}, a))).toBe(
      "cpu_core_ms 3001 is more than possible in 3000 ms (3000)",
    );
  });

  it("refuses a priced meter no agreement term bounds (gpu_mem_mib_ms), and ignores one priced at zero", () => {
    const vram: Rate[] = [{ meter: "gpu_mem_mib_ms", price: 1n, per: 1n }];
    const a = { ...terms, rates: vram, maxRates: vram };
    expect(reason(verify(note({ gpu_mem_mib_ms: 5n }, vram, a), {}, a))).toMatch(
      /gpu_mem_mib_ms is billed but/,
    );
    const free: Rate[] = [{ meter: "tokens", price: 0n, per: 1n }];
    const b = { ...terms, rates: free, maxRates: free };
    expect(verify(note({ tokens: 10n ** 9n }, free, b), {}, b).ok).toBe(true);
  });
});
