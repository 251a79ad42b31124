import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createUsageMeter, type UsageMeter } from "../../../marketplace/endpoint/createUsageMeter.ts";
import type { Store } from "../../../marketplace/store/openStore.ts";
import { createEndpointMeter } from "../../../node/endpoint/createEndpointMeter.ts";
import { createEgressCounter } from "../../../node/meter/createEgressCounter.ts";
import type { UsageEvent } from "../../../node/meter/types.ts";
import { insertUsageEvents } from "../../../node/store/insertUsageEvents.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { usageTotals } from "../../../node/store/usageTotals.ts";

// The endpoint meter on a real UsageMeter (the one the proxy keeps per replica) and a real ledger,
// with both clocks in the test's hands: samples are taken only at pause, resume and stop.
const H100 = "nvidia-h100-80gb";
const HOUR = 3_600_000;
const JOB = "job-ep-0001";

/** Two replicas of one GPU each, one kept warm, billed at ms. */
const agreement = {
  gpus: 2,
  cpuCores: 2,
  memMiB: 2048,
  maxDurationS: 3600,
  granularity: "ms" as const,
  gpuClass: H100,
  endpoint: { minReplicas: 1, maxReplicas: 2, meterToleranceMs: 1000 },
};

let dir: string;
let store: Store;
let ns: bigint;
let monoMs: bigint;
let replica: UsageMeter;
let events: UsageEvent[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-endpoint-meter-"));
  store = openProviderStore(join(dir, "provider.db"));
  ns = 0n;
  monoMs = 0n;
  replica = createUsageMeter({ clock: () => ns });
  events = [];
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A request in flight for `ms`, answered with `tokens`. */
function serve(ms: number, tokens: bigint) {
  const end = replica.begin();
  ns += BigInt(ms) * 1_000_000n;
  replica.countRequest();
  replica.addTokens(tokens);
  end();
}

function meterFor(terms: Parameters<typeof createEndpointMeter>[0]["agreement"] = agreement) {
  return createEndpointMeter({
    jobId: JOB,
    agreement: terms,
    read: () => replica.snapshot(),
    intervalMs: HOUR,
    monotonicNow: () => monoMs,
    now: () => 1_700_000_000_000 + Number(monoMs),
    onEvents: (batch) => {
      insertUsageEvents(store, batch);
      events.push(...batch);
    },
    onError: (error) => {
      throw error;
    },
  });
}

describe("createEndpointMeter", () => {
  it("stores the deltas of busy GPU time (at least the warm floor), requests and tokens; nothing while suspended", async () => {
    serve(100, 7n); // before the endpoint's start: not its usage
    const meter = meterFor();
    meter.start();
    serve(300, 50n);
    serve(1, 0n);
    monoMs = 1_000n;
    await meter.pause();
    // One warm replica for 1 s (1,000 GPU-ms) is above the 301 ms busy.
    expect(events).toEqual([
      {
        id: `${JOB}:gpu_ms:0`,
        jobId: JOB,
        source: "node",
        meter: "gpu_ms",
        quantity: 1_000n,
        time: 1_700_000_001_000,
        gpuClass: H100,
      },
      {
        id: `${JOB}:requests:0`,
        jobId: JOB,
        source: "node",
        meter: "requests",
        quantity: 2n,
        time: 1_700_000_001_000,
      },
      {
        id: `${JOB}:tokens:0`,
        jobId: JOB,
        source: "node",
        meter: "tokens",
        quantity: 50n,
        time: 1_700_000_001_000,
      },
    ]);
    // Suspended: served anyway (in flight at the suspension), not billed; nor is the time.
    serve(500, 10n);
    monoMs = 5_000n;
    await meter.resume();
    expect(events).toHaveLength(3);
    // Running again: 2 s busy on top of the 301 ms, 2 s warm in all.
    serve(2_000, 5n);
    monoMs = 6_000n;
    const totals = await meter.stop();
    expect(totals).toEqual({ gpu_ms: 2_301n, requests: 3n, tokens: 55n });
    expect(events.slice(3).map((e) => [e.id, e.quantity])).toEqual([
      [`${JOB}:gpu_ms:2`, 1_301n],
      [`${JOB}:requests:2`, 1n],
      [`${JOB}:tokens:2`, 5n],
    ]);
    // The ledger holds exactly what the receipts will bill.
    expect(usageTotals(store, JOB)).toEqual({ gpu_ms: 2_301n, requests: 3n, tokens: 55n });
  });

  it("bills only the warm floor while idle, and flushes what is counted at the end after the clock ends", async () => {
    const meter = meterFor();
    meter.start();
    monoMs = 10_000n;
    meter.endClock();
    monoMs = 15_000n; // the replicas stopping: not warm time
    serve(1, 1n); // answered during the stop: still billed
    await meter.stop();
    expect(usageTotals(store, JOB)).toEqual({ gpu_ms: 10_000n, requests: 1n, tokens: 1n });
  });

  it("bills a CPU-only endpoint's busy time as cpu_core_ms × a replica's cores, and nothing idle at minReplicas 0", async () => {
    const cpuOnly = {
      ...agreement,
      gpus: 0,
      cpuCores: 4,
      endpoint: { ...agreement.endpoint, minReplicas: 0 },
    };
    const meter = meterFor(cpuOnly);
    meter.start();
    monoMs = 60_000n;
    await meter.pause();
    expect(events).toEqual([]);
    await meter.resume();
    serve(250, 0n);
    await meter.stop();
    // 250 ms busy × 2 cores per replica.
    expect(usageTotals(store, JOB)).toEqual({ cpu_core_ms: 500n, requests: 1n });
  });

  it("collects its sources with its own events, and stops once", async () => {
    const egress = createEgressCounter({ jobId: JOB });
    const meter = createEndpointMeter({
      jobId: JOB,
      agreement,
      read: () => undefined,
      intervalMs: HOUR,
      monotonicNow: () => monoMs,
      onEvents: (batch) => {
        insertUsageEvents(store, batch);
      },
      sources: [egress],
    });
    meter.start();
    egress.add(1234);
    const [first, second] = await Promise.all([meter.stop(), meter.stop()]);
    expect(first).toBe(second);
    expect(usageTotals(store, JOB)).toEqual({ egress_bytes: 1234n });
    expect(() => meter.start()).toThrow("stopped");
  });
});
