import { describe, expect, it } from "vitest";
import { createUtilizationMeter } from "../../../node/pricing/createUtilizationMeter.ts";

const sample = (used: number, total = 4) => new Map([["gpu", { used, total }]]);

describe("createUtilizationMeter", () => {
  it("averages each class's share in use over the epoch, weighted by time", () => {
    let now = 0;
    const meter = createUtilizationMeter(() => now);
    meter.observe(sample(0));
    now = 1_000;
    meter.observe(sample(4));
    now = 2_000;
    meter.observe(sample(2));
    now = 4_000;
    // 1 s at 0 %, 1 s at 100 %, 2 s at 50 %: 50 %.
    expect(meter.take()).toEqual(new Map([["gpu", 5_000]]));
    expect(meter.epochStart).toBe(4_000);
    now = 5_000;
    expect(meter.take()).toEqual(new Map([["gpu", 5_000]]));
  });

  it("reports the current state for an epoch of no length, and 0 for a class with no units", () => {
    let now = 0;
    const meter = createUtilizationMeter(() => now);
    meter.observe(
      new Map([
        ["gpu", { used: 1, total: 4 }],
        ["none", { used: 0, total: 0 }],
      ]),
    );
    expect(meter.take()).toEqual(
      new Map([
        ["gpu", 2_500],
        ["none", 0],
      ]),
    );
    now = 10;
    meter.observe(sample(9, 4));
    now = 20;
    expect(meter.take().get("gpu")).toBe(10_000);
  });
});
