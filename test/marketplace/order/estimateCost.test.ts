import { describe, expect, it } from "vitest";
import { withDefaultMaxRates } from "../../../marketplace/client/withDefaultMaxRates.ts";
import type { Requirements } from "../../../marketplace/messages/order.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import { estimateCost } from "../../../marketplace/order/estimateCost.ts";
import { unboundedMeters } from "../../../marketplace/order/unboundedMeters.ts";
import { GRID, H100, HOUR_MS, RATES } from "../messages/fixtures.ts";

const req: Requirements = { gpus: 2, cpuCores: 4, memMiB: 2048, maxDurationS: 3600 };

const gpuRate = (price: bigint, per = HOUR_MS): Rate => ({ meter: "gpu_ms", price, per });

describe("estimateCost", () => {
  it("charges every resource of the requirements for the whole duration", () => {
    // 2 GPUs × 1 h × 2 GRID + 4 cores × 1 h × 0.02 + 2 GiB × 1 h × 0.005.
    expect(estimateCost(RATES, req, HOUR_MS)).toBe(4n * GRID + (4n * GRID) / 50n + (2n * GRID) / 200n);
  });

  it("floors each meter once, on the total (never more than one unit per meter in the payer's favour)", () => {
    const odd: Rate[] = [gpuRate(10n, 3n)];
    // 2 GPUs × 1000 ms × 10 / 3 = 6666.67 → 6666.
    expect(estimateCost(odd, { ...req, cpuCores: 1 }, 1000n)).toBe(6666n);
  });

  it("ignores the GPU class on rates and charges nothing for meters without a rate", () => {
    expect(estimateCost([{ ...gpuRate(HOUR_MS), gpuClass: H100 }], req, HOUR_MS)).toBe(2n * HOUR_MS);
    expect(estimateCost([], req, HOUR_MS)).toBe(0n);
  });

  it("covers every priced meter: observed GPU meters at full use, counted meters at the order's ceiling", () => {
    const rates: Rate[] = [
      { meter: "gpu_util_ms", price: 1n, per: 1n },
      { meter: "gpu_mem_mib_ms", price: 1n, per: HOUR_MS },
      { meter: "egress_bytes", price: GRID / 1000n, per: 1n },
      { meter: "tokens", price: 3n, per: 1n },
    ];
    const withVram = { ...req, vramMiB: 1024 };
    expect(estimateCost(rates, withVram, HOUR_MS, { egress_bytes: 1_000n, tokens: 10n })).toBe(
      2n * HOUR_MS + 2n * 1024n + 1_000n * (GRID / 1000n) + 30n,
    );
    // Without a ceiling a counted meter adds nothing (and no accepted bid prices it).
    expect(estimateCost(rates.slice(2), req, HOUR_MS)).toBe(0n);
  });
});

describe("unboundedMeters", () => {
  it("names the meters a card charges that the order set no maximum for, ignoring zero prices", () => {
    const card: Rate[] = [
      gpuRate(GRID),
      { meter: "egress_bytes", price: GRID / 1000n, per: 1n },
      { meter: "tokens", price: 0n, per: 1n },
      {
        meter: "requests",
        price: 0n,
        per: 1n,
        tiers: { mode: "graduated", bands: [{ upTo: 10n, price: 5n }] },
      },
    ];
    expect(unboundedMeters(card, [gpuRate(5n * GRID)])).toEqual(["egress_bytes", "requests"]);
    expect(unboundedMeters(card, withDefaultMaxRates(card.slice(1)))).toEqual([]);
    // The submitter's defaults cap the time meters only.
    expect(withDefaultMaxRates([gpuRate(GRID)]).map((r) => r.meter)).toEqual([
      "gpu_ms",
      "cpu_core_ms",
      "mem_mib_ms",
    ]);
    expect(unboundedMeters(card, withDefaultMaxRates([]))).toEqual(["egress_bytes", "requests"]);
  });
});
