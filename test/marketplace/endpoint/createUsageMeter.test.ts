import { describe, expect, it } from "vitest";
import { createUsageMeter } from "../../../marketplace/endpoint/createUsageMeter.ts";
import { sumUsage } from "../../../marketplace/endpoint/sumUsage.ts";

function manualClock() {
  let now = 0n;
  return { clock: () => now, advance: (ms: number) => (now += BigInt(Math.round(ms * 1e6))) };
}

describe("createUsageMeter", () => {
  it("is busy while at least one request is in flight: overlapping requests make one period", () => {
    const time = manualClock();
    const periods: bigint[] = [];
    const meter = createUsageMeter({ clock: time.clock, onPeriod: (p) => periods.push(p.ms) });
    const a = meter.begin();
    time.advance(100);
    const b = meter.begin();
    time.advance(100);
    a();
    time.advance(50);
    b();
    expect(periods).toEqual([250n]);
    const snapshot = meter.snapshot();
    expect(snapshot.busyPeriods).toBe(1n);
    expect(snapshot.busyMs).toBe(250n);
    expect(snapshot.requestMs).toBe(350n);
    expect(snapshot.billableMs).toEqual({ ms: 250n, s: 1_000n, min: 60_000n });
    expect(snapshot.inFlight).toBe(0);
  });

  it("bills separate periods separately and rounds a fraction of a ms up", () => {
    const time = manualClock();
    const meter = createUsageMeter({ clock: time.clock });
    for (let i = 0; i < 3; i += 1) {
      const end = meter.begin();
      time.advance(200.2);
      end();
      time.advance(5);
    }
    const snapshot = meter.snapshot();
    expect(snapshot.busyPeriods).toBe(3n);
    expect(snapshot.billableMs).toEqual({ ms: 603n, s: 3_000n, min: 180_000n });
  });

  it("ends a request once, however often its end is called", () => {
    const time = manualClock();
    const meter = createUsageMeter({ clock: time.clock });
    const end = meter.begin();
    const other = meter.begin();
    time.advance(10);
    end();
    end();
    expect(meter.snapshot().inFlight).toBe(1);
    other();
    expect(meter.snapshot().busyMs).toBe(10n);
  });

  it("counts requests and tokens, and sums replicas", () => {
    const one = createUsageMeter();
    const two = createUsageMeter();
    one.countRequest();
    one.addTokens(7n);
    two.countRequest();
    two.addTokens(5n);
    two.addTokens(-3n);
    const total = sumUsage([one.snapshot(), two.snapshot()]);
    expect(total.requests).toBe(2n);
    expect(total.tokens).toBe(12n);
  });
});
