import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EndpointRig, startEndpointRig, waitFor } from "./endpointRig.ts";
import { complete } from "./httpClient.ts";

// Both meters on real parts: the provider's proxy per replica, the payer's gateway per endpoint.
let rig: EndpointRig;

beforeAll(async () => {
  rig = await startEndpointRig({ endpoint: { gpusPerReplica: 1n } });
  await waitFor(
    () => rig.replicas.status().replicas.some((r) => r.state === "ready"),
    10_000,
    "a ready replica",
  );
});

afterAll(async () => {
  await rig?.stop();
});

const provider = () => {
  const usage = rig.proxy.usage(rig.endpointId);
  if (usage === undefined) throw new Error("no provider usage");
  return usage;
};
const gateway = () => {
  const usage = rig.gateway.usage(rig.endpointId);
  if (usage === undefined) throw new Error("no gateway usage");
  return usage;
};

describe("endpoint billing", () => {
  it("bills a model answering in 200 ms, called one at a time, 200 ms per request at ms, 1 s at s, 60 s at min", async () => {
    await complete(rig.base, { sleep_ms: 0, tokens: 1 }); // warm: connections and streams open
    const before = provider();
    const gatewayBefore = gateway();
    let waited = 0;
    for (let i = 0; i < 3; i += 1) {
      const answer = await complete(rig.base, { sleep_ms: 200, tokens: 10 });
      expect(answer.status).toBe(200);
      waited += Math.ceil(answer.endedMs);
    }
    const after = provider();
    const gatewayAfter = gateway();
    expect(after.total.busyPeriods - before.total.busyPeriods).toBe(3n);
    // At ms: the 200 ms the model took, plus the proxy's hop to the replica; never more than the
    // caller waited (on a loaded machine that hop may take a few ms).
    const ms = after.gpuMs.ms - before.gpuMs.ms;
    expect(ms).toBeGreaterThanOrEqual(600n);
    expect(ms).toBeLessThanOrEqual(BigInt(waited));
    expect(after.gpuMs.s - before.gpuMs.s).toBe(3n * 1_000n);
    expect(after.gpuMs.min - before.gpuMs.min).toBe(3n * 60_000n);
    // The gateway bills the same at s and min, and a little more at ms (it also sees the network).
    expect(gatewayAfter.billableMs.s - gatewayBefore.billableMs.s).toBe(3n * 1_000n);
    expect(gatewayAfter.billableMs.min - gatewayBefore.billableMs.min).toBe(3n * 60_000n);
    expect(gatewayAfter.billableMs.ms - gatewayBefore.billableMs.ms).toBeGreaterThanOrEqual(ms);
  });

  it("counts the same requests and tokens on both sides, and busy time the gateway's holds", async () => {
    const before = provider().total;
    const gatewayBefore = gateway();
    // One at a time, then overlapping, one of them streamed.
    await complete(rig.base, { sleep_ms: 50, tokens: 3 });
    await Promise.all([
      complete(rig.base, { sleep_ms: 150, tokens: 5 }),
      complete(rig.base, { sleep_ms: 100, tokens: 7, stream: true }),
      complete(rig.base, { sleep_ms: 120, tokens: 11 }),
    ]);
    await complete(rig.base, { sleep_ms: 30, tokens: 13, stream: true });
    const after = provider().total;
    const gatewayAfter = gateway();
    expect(after.requests - before.requests).toBe(5n);
    expect(gatewayAfter.requests - gatewayBefore.requests).toBe(5n);
    expect(after.tokens - before.tokens).toBe(3n + 5n + 7n + 11n + 13n);
    expect(gatewayAfter.tokens - gatewayBefore.tokens).toBe(after.tokens - before.tokens);
    const providerBusy = after.busyMs - before.busyMs;
    const gatewayBusy = gatewayAfter.busyMs - gatewayBefore.busyMs;
    expect(providerBusy).toBeGreaterThanOrEqual(50n + 150n + 30n);
    // The gateway's busy time holds the provider's: the same periods, seen from further away.
    expect(gatewayBusy).toBeGreaterThanOrEqual(providerBusy);
    expect(gatewayBusy - providerBusy).toBeLessThanOrEqual(3n * 25n);
    expect(after.busyPeriods - before.busyPeriods).toBe(gatewayAfter.busyPeriods - gatewayBefore.busyPeriods);
  });
});
