// The bid engine on real libp2p hosts in this process: a provider host with the engine, and
// submitter hosts with the client's bid collector, talking over the orders topic and the bid
// protocol. The provider's capacity is a real Capacity, so holds, races and timeouts are the node's own.

import { randomBytes } from "node:crypto";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBidCollector } from "../../../marketplace/client/collectBids.ts";
import { withDefaultMaxRates } from "../../../marketplace/client/withDefaultMaxRates.ts";
import { createLogger } from "../../../marketplace/log/createLogger.ts";
import { signEnvelope } from "../../../marketplace/messages/envelope.ts";
import type { JobOrder, Requirements } from "../../../marketplace/messages/order.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import { summarizeDeclines } from "../../../marketplace/order/explainDeclines.ts";
import { scoreBids } from "../../../marketplace/order/scoreBids.ts";
import { ORDER_TTL_S, ORDERS_TOPIC } from "../../../marketplace/p2p/constants.ts";
import { createHost, type GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import { createBidEngine } from "../../../node/bid/bidEngine.ts";
import { Capacity } from "../../../node/bid/capacity.ts";
import { priceListToRates } from "../../../node/pricing/rates.ts";
import { waitFor } from "../../integration/support/waitFor.ts";

const CHAIN_ID = 31337;
const GRID = 10n ** 18n;
const H100 = "nvidia-h100-80gb";
const A100 = "nvidia-a100-40gb";
const HOLD_MS = 600;
const ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const quiet = createLogger("test", () => {});

const providerAccount = privateKeyToAccount(generatePrivateKey());
let providerHost: GridspotHost;
let capacity: Capacity;
const signals = { turnedAway: [] as string[][], lostOnPrice: [] as string[][] };
let engine: ReturnType<typeof createBidEngine>;
/** Rates the provider adds to its card for one test (a meter the order may not have capped). */
let extraRates: Rate[] = [];

type Submitter = {
  host: GridspotHost;
  account: ReturnType<typeof privateKeyToAccount>;
  bids: ReturnType<typeof createBidCollector>;
};
const submitters: Submitter[] = [];

beforeAll(async () => {
  providerHost = await createHost({
    privateKey: await generateKeyPair("Ed25519"),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    localNetwork: true,
  });
  // The H100 first (as nvidia-smi numbers it) and dearer; one A100, cheaper.
  capacity = new Capacity({
    gpus: [
      { index: 0, class: H100, vramMiB: 81_559 },
      { index: 1, class: A100, vramMiB: 40_960 },
    ],
    cpuCores: 8,
    memMiB: 16_384,
    maxDurationS: 3600,
  });
  const rates = priceListToRates({
    gpuHour: { [H100]: 3n * GRID, [A100]: GRID },
    cpuCoreHour: GRID / 50n,
    memGiBHour: GRID / 200n,
  });
  engine = createBidEngine(
    {
      host: providerHost,
      account: providerAccount,
      chainId: CHAIN_ID,
      escrow: ESCROW,
      capacity,
      logger: quiet,
      signals: {
        turnedAway: (classes) => signals.turnedAway.push(classes),
        lostOnPrice: (classes) => signals.lostOnPrice.push(classes),
      },
      terms: () => ({
        provider: providerAccount.address,
        peerId: providerHost.peerId.toString(),
        addrs: providerHost.getMultiaddrs().map((a) => a.toString()),
        rates: [...rates, ...extraRates],
        granularity: "ms",
        receiptIntervalMs: 1000,
        bidValidityS: 60,
        endpoint: {
          meterToleranceMs: 750,
          rates: [
            { meter: "requests", price: GRID / 1000n, per: 1000n },
            { meter: "tokens", price: GRID / 100_000n, per: 1000n },
          ],
          refuse: () => undefined,
        },
      }),
    },
    { holdMs: HOLD_MS, graceIntervals: 2 },
  );
  engine.start();
  for (let i = 0; i < 2; i++) {
    const host = await createHost({
      privateKey: await generateKeyPair("Ed25519"),
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap: providerHost.getMultiaddrs().map((a) => a.toString()),
      localNetwork: true,
    });
    host.services.pubsub.subscribe(ORDERS_TOPIC);
    const account = privateKeyToAccount(generatePrivateKey());
    const bids = createBidCollector({
      host,
      account,
      chainId: CHAIN_ID,
      logger: quiet,
      isActiveProvider: async () => true,
    });
    await bids.start();
    submitters.push({ host, account, bids });
    await waitFor("the provider in the submitter's orders mesh", () =>
      host.services.pubsub.getSubscribers(ORDERS_TOPIC).some((p) => p.equals(providerHost.peerId))
        ? true
        : undefined,
    );
  }
});
afterAll(async () => {
  engine?.stop();
  for (const s of submitters) {
    await s.bids.stop();
    await s.host.stop();
  }
  await providerHost?.stop();
});

const newId = () => randomBytes(9).toString("base64url");

/** Publishes an order asking to explain and returns what came back after the window. */
async function auction(
  s: Submitter,
  requirements: Partial<Requirements>,
  windowMs = 700,
  orderTerms: Pick<JobOrder, "maxRates"> & Partial<Pick<JobOrder, "maxUsage" | "endpoint" | "image">> = {
    maxRates: withDefaultMaxRates([]),
  },
) {
  const order: JobOrder = {
    orderId: newId(),
    submitter: s.account.address,
    peerId: s.host.peerId.toString(),
    addrs: s.host.getMultiaddrs().map((a) => a.toString()),
    requirements: { gpus: 1, cpuCores: 1, memMiB: 1024, maxDurationS: 600, ...requirements },
    ...orderTerms,
    bidWindowMs: windowMs,
    explain: true,
  };
  s.bids.open(order);
  const env = await signEnvelope(s.account, {
    chainId: CHAIN_ID,
    kind: "JobOrder",
    peerId: order.peerId,
    expiresAt: Math.floor(Date.now() / 1000) + ORDER_TTL_S,
    payload: order,
  });
  await s.host.services.pubsub.publish(ORDERS_TOPIC, new TextEncoder().encode(JSON.stringify(env)));
  await new Promise((r) => setTimeout(r, windowMs));
  return { order, ...s.bids.close(order.orderId) };
}

describe("bid engine", () => {
  it("a bid pricing a meter the order set no maximum for is refused and counted (egress at 0.001 GRID/byte)", async () => {
    const [s] = submitters as [Submitter];
    extraRates = [{ meter: "egress_bytes", price: GRID / 1000n, per: 1n }];
    try {
      const cheat = await auction(s, {});
      expect(cheat.bids).toEqual([]);
      expect(cheat.refused).toEqual([
        {
          provider: providerAccount.address,
          reason: "unpriced-meter",
          detail: "prices egress_bytes, for which the order set no maximum",
        },
      ]);
      expect(summarizeDeclines({ bids: 0, declines: cheat.declines, refused: cheat.refused }).text).toBe(
        "1 provider saw the order: 1 bid refused (unpriced-meter)",
      );
      // An order that caps egress takes the bid, and ranks it with egress at the order's ceiling.
      const maxUsage = { egress_bytes: 1_000_000n };
      const capped = await auction(s, {}, 700, {
        maxRates: withDefaultMaxRates([{ meter: "egress_bytes", price: GRID / 1000n, per: 1n }]),
        maxUsage,
      });
      expect(capped.refused).toEqual([]);
      expect(capped.bids).toHaveLength(1);
      const [ranked] = scoreBids(capped.bids, capped.order.requirements, undefined, maxUsage);
      const withoutEgress = scoreBids(capped.bids, capped.order.requirements)[0]?.hourlyCost ?? 0n;
      expect(ranked?.hourlyCost).toBe(withoutEgress + 1_000_000n * (GRID / 1000n));
      for (const b of capped.bids) await s.bids.pass(capped.order, b);
    } finally {
      extraRates = [];
    }
  });

  it("holds the class it bid for an order that names none, and releases the hold when no job starts", async () => {
    const [s] = submitters as [Submitter];
    const { order, bids } = await auction(s, {});
    expect(bids.map((b) => b.bid.gpuClass)).toEqual([A100]);
    const jobId = newId();
    const accepted = await s.bids.accept(order, bids[0] as (typeof bids)[number], jobId);
    expect(accepted?.agreement.gpuClass).toBe(A100);
    expect(accepted?.agreement.rates[0]).toMatchObject({ meter: "gpu_ms", price: GRID });
    expect(capacity.get(jobId)?.gpuClass).toBe(A100);
    expect(capacity.free().gpusByClass.get(A100)).toBeUndefined();
    // Nothing starts the job: after the hold time the A100 is free again.
    await waitFor("the hold to lapse", () => (capacity.get(jobId) === undefined ? true : undefined), {
      timeoutMs: HOLD_MS + 2_000,
      intervalMs: 50,
    });
    expect(capacity.free().gpusByClass.get(A100)).toHaveLength(1);
  });

  it("gives the last GPU of a class to one of two racing submitters; the other gets no-capacity", async () => {
    const [a, b] = submitters as [Submitter, Submitter];
    signals.turnedAway.length = 0;
    const [ra, rb] = await Promise.all([auction(a, { gpuClass: H100 }), auction(b, { gpuClass: H100 })]);
    expect(ra.bids).toHaveLength(1);
    expect(rb.bids).toHaveLength(1);
    const jobs = [newId(), newId()];
    const results = await Promise.all([
      a.bids.accept(ra.order, ra.bids[0] as (typeof ra.bids)[number], jobs[0] as string),
      b.bids.accept(rb.order, rb.bids[0] as (typeof rb.bids)[number], jobs[1] as string),
    ]);
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    const winner = results[0] === undefined ? 1 : 0;
    expect(capacity.get(jobs[winner] as string)?.gpuClass).toBe(H100);
    expect(capacity.get(jobs[1 - winner] as string)).toBeUndefined();
    expect(signals.turnedAway).toEqual([[H100]]);
    // While the hold lasts, a third order for the class is declined for capacity, and counted.
    const third = await auction(a, { gpuClass: H100 });
    expect(third.bids).toEqual([]);
    expect(third.declines.map((d) => d.reason)).toEqual(["no-capacity"]);
    expect(signals.turnedAway).toEqual([[H100], [H100]]);
    capacity.release(jobs[winner] as string);
  });

  it("counts a bid the submitter passed on as lost on price", async () => {
    const [s] = submitters as [Submitter];
    signals.lostOnPrice.length = 0;
    const { order, bids } = await auction(s, { gpuClass: H100 });
    await s.bids.pass(order, bids[0] as (typeof bids)[number]);
    await waitFor("the pass to reach the engine", () => (signals.lostOnPrice.length > 0 ? true : undefined));
    expect(signals.lostOnPrice).toEqual([[H100]]);
    expect(capacity.free().gpusByClass.get(H100)).toHaveLength(1);
  });

  it("signs an endpoint's agreement: the order's replicas, the bid's tolerance, requests and tokens priced, none self-reported", async () => {
    const [s] = submitters as [Submitter];
    const maxRates = withDefaultMaxRates([
      { meter: "requests", price: GRID, per: 1000n },
      { meter: "tokens", price: GRID, per: 1000n },
    ]);
    const { order, bids } = await auction(s, { gpus: 0, cpuCores: 2, memMiB: 1024 }, 700, {
      maxRates,
      maxUsage: { requests: 1000n, tokens: 100_000n },
      endpoint: { minReplicas: 1, maxReplicas: 2 },
      image: "llm:1",
    });
    expect(bids).toHaveLength(1);
    const bid = (bids[0] as (typeof bids)[number]).bid;
    expect(bid.endpoint).toEqual({ meterToleranceMs: 750 });
    expect(bid.rates.map((r) => r.meter)).toEqual(["cpu_core_ms", "mem_mib_ms", "requests", "tokens"]);
    const jobId = newId();
    // The collector's own check (checkAgreement) passes, or accept throws.
    const accepted = await s.bids.accept(order, bids[0] as (typeof bids)[number], jobId);
    expect(accepted?.agreement.endpoint).toEqual({ minReplicas: 1, maxReplicas: 2, meterToleranceMs: 750 });
    expect(accepted?.agreement.selfReported).toBeUndefined();
    capacity.release(jobId);
  });
});
