import { describe, expect, it } from "vitest";
import { createUsageMeter } from "../../../marketplace/endpoint/createUsageMeter.ts";
import { observeNote } from "../../../marketplace/endpoint/observeNote.ts";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import type { Meter } from "../../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import { agreement, debitNote } from "../messages/fixtures.ts";

const MS = 1_000_000n;
const terms: Agreement = {
  ...agreement,
  gpus: 2,
  cpuCores: 2,
  memMiB: 1024,
  granularity: "s",
  endpoint: { minReplicas: 0, maxReplicas: 2, meterToleranceMs: 300 },
};
const noteOf = (usage: Partial<Record<Meter, bigint>>): DebitNote => ({
  ...debitNote,
  usage: Object.entries(usage).map(([meter, quantity]) => ({
    meter: meter as Meter,
    quantity: quantity ?? 0n,
  })),
});

describe("observeNote", () => {
  it("counts each request rounded up on its own, × a replica's GPUs, with requests and tokens", async () => {
    let t = 0n;
    const meter = createUsageMeter({ clock: () => t });
    // Two overlapping requests of 200 and 300 ms: one gateway period, but two replicas may have
    // served them (two provider periods): the bound is 1 s + 1 s at `s` granularity.
    const end1 = meter.begin();
    t += 100n * MS;
    const end2 = meter.begin();
    t += 100n * MS;
    end1();
    meter.countRequest();
    meter.addTokens(7n);
    t += 200n * MS;
    end2();
    meter.countRequest();
    meter.addTokens(5n);
    const observed = await observeNote({
      count: () => meter.snapshot(),
      agreement: terms,
      startedAt: Date.now(),
      note: noteOf({ gpu_ms: 2_000n, requests: 2n, tokens: 12n }),
    });
    expect(observed).toEqual({ gpu_ms: 2_000n, requests: 2n, tokens: 12n });
  });

  it("waits up to the tolerance for answers still in transit, then answers what it counted", async () => {
    const meter = createUsageMeter();
    const ahead = noteOf({ requests: 1n });
    setTimeout(() => meter.countRequest(), 100);
    const started = Date.now();
    expect(
      (
        await observeNote({
          count: () => meter.snapshot(),
          agreement: terms,
          startedAt: started,
          note: ahead,
        })
      ).requests,
    ).toBe(1n);
    expect(Date.now() - started).toBeLessThan(300);
    const invented = noteOf({ requests: 5n });
    const at = Date.now();
    const observed = await observeNote({
      count: () => meter.snapshot(),
      agreement: terms,
      startedAt: at,
      note: invented,
    });
    expect(observed.requests).toBe(1n);
    expect(Date.now() - at).toBeGreaterThanOrEqual(290);
  });

  it("bills warm replicas as allocated over the time since the start, and adds an earlier gateway's count", async () => {
    const warm: Agreement = { ...terms, endpoint: { minReplicas: 1, maxReplicas: 2, meterToleranceMs: 0 } };
    const observed = await observeNote({
      count: () => undefined,
      agreement: warm,
      startedAt: 10_000,
      now: () => 12_500,
      note: noteOf({}),
      baseline: { requests: 3n, tokens: 30n },
    });
    // One warm replica with one GPU for 2.5 s.
    expect(observed).toEqual({ gpu_ms: 2_500n, requests: 3n, tokens: 30n });
  });
});
