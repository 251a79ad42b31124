import { describe, expect, it } from "vitest";
import { createEgressCounter } from "../../../node/meter/createEgressCounter.ts";

describe("createEgressCounter", () => {
  it("turns the bytes counted since the last flush into one egress_bytes event with a fresh id", () => {
    const egress = createEgressCounter({ jobId: "job-1" });
    expect(egress.flush(1)).toEqual([]);
    egress.add(32_768);
    egress.add(10);
    expect(egress.flush(2)).toEqual([
      {
        id: "job-1:egress_bytes:0",
        jobId: "job-1",
        source: "node",
        meter: "egress_bytes",
        quantity: 32_778n,
        time: 2,
      },
    ]);
    expect(egress.flush(3)).toEqual([]);
    egress.add(0);
    egress.add(5);
    // At a meter sample, through the UsageSource interface.
    const events = egress.collect({ seq: 9, monoMs: 0n, timeMs: 4, pids: [], paused: false });
    expect(events).toEqual([
      {
        id: "job-1:egress_bytes:1",
        jobId: "job-1",
        source: "node",
        meter: "egress_bytes",
        quantity: 5n,
        time: 4,
      },
    ]);
    expect(egress.total()).toBe(32_783n);
  });

  it("refuses a byte count that is not a non-negative integer", () => {
    const egress = createEgressCounter({ jobId: "job-1" });
    expect(() => egress.add(-1)).toThrow(RangeError);
    expect(() => egress.add(1.5)).toThrow(RangeError);
    expect(egress.total()).toBe(0n);
  });
});
