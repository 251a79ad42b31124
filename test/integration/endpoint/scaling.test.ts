import { afterEach, describe, expect, it } from "vitest";
import { type EndpointRig, startEndpointRig, waitFor } from "./endpointRig.ts";
import { complete } from "./httpClient.ts";

// Scaling as a caller of the gateway sees it: cold starts queue, never drop; a timeout is a 503.
const rigs: EndpointRig[] = [];
afterEach(async () => {
  await Promise.all(rigs.splice(0).map((rig) => rig.stop()));
});

describe("endpoint scaling through the gateway", () => {
  it("scales to zero after the idle timeout; the next request waits for a cold start and is answered", async () => {
    const rig = await startEndpointRig({
      replicas: { min: 0, max: 1, idleTimeoutMs: 300, coldStartTimeoutMs: 10_000 },
    });
    rigs.push(rig);
    expect(rig.replicas.status().replicas).toEqual([]);
    // Three requests at once, at zero replicas: all queue for the one cold start.
    const answers = await Promise.all([1, 2, 3].map(() => complete(rig.base, { sleep_ms: 0, tokens: 2 })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(new Set(answers.map((a) => a.headers["x-replica"])).size).toBe(1);
    await waitFor(() => rig.replicas.status().replicas.length === 0, 5_000, "scale to zero");
    const again = await complete(rig.base, { sleep_ms: 0, tokens: 2 });
    expect(again.status).toBe(200);
    expect(again.headers["x-replica"]).not.toBe(answers[0]?.headers["x-replica"]);
  });

  it("answers 503 in words when the cold start takes longer than the timeout", async () => {
    const rig = await startEndpointRig({
      replicas: { min: 0, max: 1, coldStartTimeoutMs: 1_000, startTimeoutMs: 30_000 },
      command: { command: process.execPath, args: ["-e", "setInterval(() => {}, 1000)"] },
    });
    rigs.push(rig);
    const answer = await complete(rig.base, { sleep_ms: 0, tokens: 1 });
    expect(answer.status).toBe(503);
    expect(answer.headers["x-gridspot-error"]).toBe("cold-start-timeout");
    expect(JSON.parse(answer.body).error.message).toBe(
      "no replica of endpoint ep-test became ready within 1.0 s (cold start)",
    );
    expect(answer.endedMs).toBeLessThan(3_000);
  });

  it("spreads concurrent requests over two replicas by requests in flight", async () => {
    const rig = await startEndpointRig({ replicas: { min: 2, max: 2, concurrency: 4 } });
    rigs.push(rig);
    await waitFor(
      () => rig.replicas.status().replicas.filter((r) => r.state === "ready").length === 2,
      10_000,
      "two ready replicas",
    );
    const answers = await Promise.all(
      [1, 2, 3, 4].map(() => complete(rig.base, { sleep_ms: 400, tokens: 1 })),
    );
    const perReplica = new Map<string, number>();
    for (const answer of answers) {
      const replica = String(answer.headers["x-replica"]);
      perReplica.set(replica, (perReplica.get(replica) ?? 0) + 1);
    }
    expect([...perReplica.values()]).toEqual([2, 2]);
    // Each replica's meter saw its own two requests, busy together for one period.
    const usage = rig.proxy.usage(rig.endpointId);
    expect(usage?.replicas.map((r) => r.usage.requests)).toEqual([2n, 2n]);
    expect(usage?.replicas.map((r) => r.usage.busyPeriods)).toEqual([1n, 1n]);
  });
});
