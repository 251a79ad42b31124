import { describe, expect, it } from "vitest";
import type { Bid } from "../../../marketplace/messages/bid.ts";
import type { Requirements } from "../../../marketplace/messages/order.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import { scoreBids } from "../../../marketplace/order/scoreBids.ts";
import { bid, GRID, HOUR_MS } from "../messages/fixtures.ts";

const req: Requirements = { gpus: 2, cpuCores: 4, memMiB: 2048, maxDurationS: 3600 };

const gpuRate = (price: bigint, per = HOUR_MS): Rate => ({ meter: "gpu_ms", price, per });
const bidFrom = (provider: string, rates: Rate[]): Bid => ({
  ...bid,
  provider: provider as `0x${string}`,
  rates,
});
const A = "0x1000000000000000000000000000000000000001";
const B = "0x2000000000000000000000000000000000000002";
const C = "0x3000000000000000000000000000000000000003";

describe("scoreBids", () => {
  it("ranks by the cost of one hour of the full requirements, cheapest first", () => {
    const cheapGpuDearCpu = bidFrom(A, [
      gpuRate(1n * GRID),
      { meter: "cpu_core_ms", price: GRID, per: HOUR_MS },
    ]);
    const dearGpuFreeCpu = bidFrom(B, [gpuRate(2n * GRID)]);
    const cheapest = bidFrom(C, [gpuRate(GRID / 2n)]);
    const ranked = scoreBids(
      [
        { bid: cheapGpuDearCpu, receivedMs: 1 },
        { bid: dearGpuFreeCpu, receivedMs: 2 },
        { bid: cheapest, receivedMs: 3 },
      ],
      req,
    );
    // A: 2 GRID of GPU + 4 GRID of CPU = 6; B: 4; C: 1.
    expect(ranked.map((s) => [s.bid.provider, s.hourlyCost])).toEqual([
      [C, GRID],
      [B, 4n * GRID],
      [A, 6n * GRID],
    ]);
  });

  it("compares costs exactly, even a single base unit apart at 10^30", () => {
    const big = 10n ** 30n;
    const ranked = scoreBids(
      [
        { bid: bidFrom(A, [gpuRate(big + 1n, 1n)]), receivedMs: 0 },
        { bid: bidFrom(B, [gpuRate(big, 1n)]), receivedMs: 10 },
      ],
      { ...req, gpus: 1 },
    );
    expect(ranked.map((s) => s.bid.provider)).toEqual([B, A]);
    expect(ranked.map((s) => s.hourlyCost)).toEqual([10n ** 30n * HOUR_MS, (10n ** 30n + 1n) * HOUR_MS]);
  });

  it("breaks a price tie by the fastest answer, then by provider address", () => {
    const rates = [gpuRate(GRID)];
    const ranked = scoreBids(
      [
        { bid: bidFrom(C, rates), receivedMs: 5 },
        { bid: bidFrom(B, rates), receivedMs: 9 },
        { bid: bidFrom(A.toUpperCase().replace("0X", "0x"), rates), receivedMs: 9 },
      ],
      req,
    );
    expect(ranked.map((s) => s.bid.provider.toLowerCase())).toEqual([C, A, B]);
  });

  it("breaks a price tie by reputation before answer time, and never lets reputation beat price", () => {
    const rates = [gpuRate(GRID)];
    const reputation = { [A]: 0, [B]: 7, [C]: -5 } as Record<string, number>;
    const ranked = scoreBids(
      [
        { bid: bidFrom(A, rates), receivedMs: 1 },
        { bid: bidFrom(B, rates), receivedMs: 50 },
        { bid: bidFrom(C, [gpuRate(GRID - 1n)]), receivedMs: 90 },
      ],
      req,
      (provider) => reputation[provider] ?? 0,
    );
    // C is cheapest despite its early closes; B's history beats A's faster answer at the same price.
    expect(ranked.map((s) => [s.bid.provider, s.reputation])).toEqual([
      [C, -5],
      [B, 7],
      [A, 0],
    ]);
  });

  it("orders the same way whatever order the bids came in", () => {
    const bids = [
      { bid: bidFrom(A, [gpuRate(GRID)]), receivedMs: 3 },
      { bid: bidFrom(B, [gpuRate(GRID)]), receivedMs: 3 },
      { bid: bidFrom(C, [gpuRate(GRID)]), receivedMs: 3 },
    ];
    const forward = scoreBids(bids, req).map((s) => s.bid.provider);
    const backward = scoreBids([...bids].reverse(), req).map((s) => s.bid.provider);
    expect(forward).toEqual([A, B, C]);
    expect(backward).toEqual(forward);
  });

  it("returns nothing for no bids and does not reorder its input", () => {
    expect(scoreBids([], req)).toEqual([]);
    const input = [
      { bid: bidFrom(B, [gpuRate(2n)]), receivedMs: 0 },
      { bid: bidFrom(A, [gpuRate(1n)]), receivedMs: 0 },
    ];
    scoreBids(input, req);
    expect(input.map((b) => b.bid.provider)).toEqual([B, A]);
  });

  it("ranks by the cost of the job as ordered: its expected duration, each bid's granularity and minimum charge", () => {
    const short: Requirements = { gpus: 1, cpuCores: 1, memMiB: 512, maxDurationS: 3 };
    const perMinute = { ...bidFrom(A, [gpuRate(2n * GRID)]), granularity: "min" as const };
    const perSecond = { ...bidFrom(B, [gpuRate((5n * GRID) / 2n)]), granularity: "s" as const };
    const ranked = scoreBids(
      [
        { bid: perMinute, receivedMs: 1 },
        { bid: perSecond, receivedMs: 2 },
      ],
      short,
    );
    // 3 s at 2.5 GRID/h billed per second beats a minute at 2 GRID/h billed per minute.
    expect(ranked.map((r) => r.bid.provider)).toEqual([B, A]);
    expect(ranked[0]?.jobCost).toBe((5n * GRID * 3_000n) / 2n / HOUR_MS);
    expect(ranked[1]?.jobCost).toBe((2n * GRID * 60_000n) / HOUR_MS);
    // For an hour, per hour is what counts; a minimum charge above the job's cost is what it costs.
    expect(
      scoreBids(
        [
          { bid: perMinute, receivedMs: 1 },
          { bid: perSecond, receivedMs: 2 },
        ],
        req,
      )[0]?.bid.provider,
    ).toBe(A);
    const withMinimum = { ...perSecond, minimumCharge: GRID };
    const [first] = scoreBids(
      [
        { bid: withMinimum, receivedMs: 1 },
        { bid: perMinute, receivedMs: 2 },
      ],
      short,
    );
    expect(first?.bid.provider).toBe(A);
    // An expected duration shorter than the maximum prices every bid for it.
    const hourly = { ...perSecond, provider: C as `0x${string}` };
    const expected = scoreBids([{ bid: hourly, receivedMs: 1 }], req, undefined, {}, 3_000n);
    expect(expected[0]?.jobCost).toBe((5n * GRID * 3_000n * 2n) / 2n / HOUR_MS);
  });
});
