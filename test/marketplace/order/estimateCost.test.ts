import { describe, expect, it } from "vitest";
import type { Requirements } from "../../../marketplace/messages/order.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import { estimateCost } from "../../../marketplace/order/estimateCost.ts";
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
});
