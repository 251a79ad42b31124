import { describe, expect, it } from "vitest";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import { rateUsage } from "../../../marketplace/rating/rateUsage.ts";
import { priceNote } from "../../../marketplace/receipt/priceNote.ts";
import { verifyDebitNote } from "../../../marketplace/receipt/verifyDebitNote.ts";
import { agreement, debitNote, GRID, HOUR_MS } from "../messages/fixtures.ts";

// A spot agreement: the GPU-hour starts at 2 GRID and may rise to 3 GRID, never above.
const gpuAt = (price: bigint): Rate => ({ meter: "gpu_ms", price, per: HOUR_MS });
const START: Rate[] = [gpuAt(2n * GRID)];
const MAX: Rate[] = [gpuAt(3n * GRID)];
const spot: Agreement = { ...agreement, pricing: "spot", rates: START, maxRates: MAX, gpus: 1, cpuCores: 1 };
const BASE = 0n;

/** The note the provider would cut at `gpuMs` of cumulative use with `rates`, after `previous`. */
function note(seq: number, gpuMs: bigint, rates: Rate[], previous?: DebitNote): DebitNote {
  const totals = { gpu_ms: gpuMs };
  const { subtotal } = priceNote({
    agreement: spot,
    channelBase: BASE,
    rates,
    totals,
    previous:
      previous === undefined
        ? undefined
        : { totals: { gpu_ms: previous.usage[0]?.quantity ?? 0n }, subtotal: previous.subtotal ?? 0n },
  });
  return {
    ...debitNote,
    seq,
    usage: [{ meter: "gpu_ms", quantity: gpuMs }],
    rates,
    subtotal,
    jobAmount: subtotal,
    channelCumulative: BASE + subtotal,
  };
}

const verify = (n: DebitNote, previous?: DebitNote) =>
  verifyDebitNote({
    note: n,
    agreement: spot,
    channelId: debitNote.channelId,
    channelBase: BASE,
    previous,
    elapsedMs: Number(n.usage[0]?.quantity ?? 0n),
    budget: 100n * GRID,
    toleranceMs: 1_000,
    maxUsage: {},
  });

describe("spot agreements", () => {
  it("accept a rate that changes between notes, billing each stretch at its own rate", () => {
    const first = note(0, 3_600_000n, START);
    expect(verify(first)).toEqual({ ok: true, amount: 2n * GRID });
    const raised = note(1, 7_200_000n, [gpuAt((5n * GRID) / 2n)], first);
    // One hour at 2 GRID, then one hour at 2.5 GRID.
    expect(raised.jobAmount).toBe(2n * GRID + (5n * GRID) / 2n);
    expect(verify(raised, first)).toEqual({ ok: true, amount: raised.jobAmount });
  });

  it("telescope to the cumulative formula while the rate holds", () => {
    let previous: DebitNote | undefined;
    for (let i = 0; i < 7; i++) {
      const n = note(i, BigInt(1_234_567 * (i + 1)), START, previous);
      expect(verify(n, previous).ok).toBe(true);
      previous = n;
    }
    const cumulative = rateUsage({ gpu_ms: 1_234_567n * 7n }, START, spot.granularity).subtotal;
    expect(previous?.jobAmount).toBe(cumulative);
  });

  it("refuse a rate raised above the agreement's maximum", () => {
    const first = note(0, 3_600_000n, START);
    const gouged = note(1, 7_200_000n, [gpuAt(4n * GRID)], first);
    const result = verify(gouged, first);
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.reason).toMatch(/above the agreed maximum/);
  });

  it("refuse a subtotal that re-prices earlier usage at the new rate", () => {
    const first = note(0, 3_600_000n, START);
    const rates = [gpuAt(3n * GRID)];
    // Both hours at the new rate, as if the first had been billed at it too.
    const repriced = {
      ...note(1, 7_200_000n, rates, first),
      subtotal: 6n * GRID,
      jobAmount: 6n * GRID,
      channelCumulative: 6n * GRID,
    };
    const result = verify(repriced, first);
    expect(result.ok).toBe(false);
  });

  it("still refuse a fixed agreement's note whose rates changed", () => {
    const fixed: Agreement = { ...spot, pricing: "fixed" };
    const changed = note(0, 3_600_000n, [gpuAt(GRID)]);
    const result = verifyDebitNote({
      note: changed,
      agreement: fixed,
      channelId: debitNote.channelId,
      channelBase: BASE,
      previous: undefined,
      elapsedMs: 3_600_000,
      budget: 100n * GRID,
      toleranceMs: 1_000,
      maxUsage: {},
    });
    expect(result.ok ? "" : result.reason).toMatch(/rates differ/);
  });
});
