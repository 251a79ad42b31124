import { describe, expect, it } from "vitest";
import { bid as bidSchema, decline as declineSchema } from "../../../marketplace/messages/bid.ts";
import type { JobOrder, Requirements } from "../../../marketplace/messages/order.ts";
import { GIB_HOUR_MIB_MS, HOUR_MS } from "../../../marketplace/rating/constants.ts";
import { Capacity } from "../../../node/bid/capacity.ts";
import { type BidTerms, evaluateOrder } from "../../../node/bid/evaluateOrder.ts";
import { priceListToRates } from "../../../node/pricing/rates.ts";
import { GRID, order, PEER_A, PROVIDER } from "../../marketplace/messages/fixtures.ts";

const H100 = "nvidia-h100-80gb";
const A100 = "nvidia-a100-40gb";
const NOW_S = 1_700_000_000;

const terms: BidTerms = {
  provider: PROVIDER,
  peerId: PEER_A,
  addrs: ["/ip4/127.0.0.1/tcp/4001"],
  rates: priceListToRates({
    gpuHour: { [H100]: 3n * GRID, [A100]: GRID },
    cpuCoreHour: GRID / 50n,
    memGiBHour: GRID / 200n,
  }),
  granularity: "s",
  receiptIntervalMs: 5000,
  bidValidityS: 30,
};

function node() {
  return new Capacity({
    gpus: [
      { index: 0, class: H100, vramMiB: 81_559 },
      { index: 1, class: A100, vramMiB: 40_960 },
    ],
    cpuCores: 8,
    memMiB: 32_768,
    maxDurationS: 7200,
  });
}

const orderFor = (requirements: Partial<Requirements>, rest: Partial<JobOrder> = {}): JobOrder => ({
  ...order,
  requirements: { gpus: 1, cpuCores: 2, memMiB: 4096, maxDurationS: 3600, ...requirements },
  maxRates: [],
  ...rest,
});

describe("evaluateOrder", () => {
  it("bids on an order that fits, with the rates of the GPU class it would get", () => {
    const result = evaluateOrder(orderFor({ gpuClass: H100 }), node(), terms, NOW_S);
    expect(result).toEqual({
      kind: "bid",
      bid: {
        orderId: order.orderId,
        provider: PROVIDER,
        peerId: PEER_A,
        addrs: terms.addrs,
        gpuClass: H100,
        rates: [
          { meter: "gpu_ms", price: 3n * GRID, per: HOUR_MS },
          { meter: "cpu_core_ms", price: GRID / 50n, per: HOUR_MS },
          { meter: "mem_mib_ms", price: GRID / 200n, per: GIB_HOUR_MIB_MS },
        ],
        pricing: "fixed",
        granularity: "s",
        receiptIntervalMs: 5000,
        validUntil: NOW_S + 30,
      },
    });
    if (result.kind === "bid") expect(bidSchema.parse(result.bid)).toEqual(result.bid);
  });

  it("announces the operator's minimum charge in the bid, so the agreement can carry it", () => {
    const result = evaluateOrder(
      orderFor({ gpuClass: H100 }),
      node(),
      { ...terms, minimumCharge: GRID / 10n },
      NOW_S,
    );
    expect(result.kind).toBe("bid");
    if (result.kind !== "bid") return;
    expect(result.bid.minimumCharge).toBe(GRID / 10n);
    expect(
      bidSchema.parse(
        JSON.parse(JSON.stringify(result.bid, (_k, v) => (typeof v === "bigint" ? v.toString() : v))),
      ).minimumCharge,
    ).toBe(GRID / 10n);
    const none = evaluateOrder(orderFor({ gpuClass: H100 }), node(), terms, NOW_S);
    expect(none.kind === "bid" && "minimumCharge" in none.bid).toBe(false);
  });

  it("bids spot when the operator asks, with maxima at its ceilings lowered to the order's maximum", () => {
    const ceilings = priceListToRates({
      gpuHour: { [H100]: 5n * GRID, [A100]: 4n * GRID },
      cpuCoreHour: GRID / 10n,
      memGiBHour: GRID / 100n,
    });
    const capped = orderFor(
      { gpuClass: H100 },
      { maxRates: [{ meter: "gpu_ms", price: 4n * GRID, per: HOUR_MS }] },
    );
    const result = evaluateOrder(capped, node(), { ...terms, spotCeilings: ceilings }, NOW_S);
    expect(result.kind).toBe("bid");
    if (result.kind !== "bid") return;
    expect(result.bid.pricing).toBe("spot");
    expect(result.bid.maxRates).toEqual([
      { meter: "gpu_ms", price: 4n * GRID, per: HOUR_MS },
      { meter: "cpu_core_ms", price: GRID / 10n, per: HOUR_MS },
      { meter: "mem_mib_ms", price: GRID / 100n, per: GIB_HOUR_MIB_MS },
    ]);
  });

  it("bids on a CPU-only order without a GPU rate or class", () => {
    const result = evaluateOrder(orderFor({ gpus: 0 }), node(), terms, NOW_S);
    expect(result.kind).toBe("bid");
    if (result.kind !== "bid") return;
    expect(result.bid.gpuClass).toBeUndefined();
    expect(result.bid.rates.map((r) => r.meter)).toEqual(["cpu_core_ms", "mem_mib_ms"]);
  });

  it.each([
    ["gpu-class", { gpuClass: "nvidia-l4-24gb" }],
    ["gpu-class", { gpus: 2 }],
    ["vram", { vramMiB: 100_000 }],
    ["cpu", { cpuCores: 9 }],
    ["memory", { memMiB: 32_769 }],
    ["duration", { maxDurationS: 7201 }],
  ] as const)("declines with %s an order the node cannot run", (reason, requirements) => {
    const result = evaluateOrder(orderFor(requirements), node(), terms, NOW_S);
    expect(result).toMatchObject({
      kind: "decline",
      decline: { orderId: order.orderId, provider: PROVIDER, reason },
    });
    if (result.kind === "decline") expect(declineSchema.parse(result.decline)).toEqual(result.decline);
  });

  it("declines with no-capacity while the GPUs are held, and bids again once they are released", () => {
    const capacity = node();
    capacity.reserve(
      "job-held",
      { gpus: 1, gpuClass: H100, cpuCores: 1, memMiB: 1, maxDurationS: 1 },
      Date.now() + 60_000,
    );
    const wanted = orderFor({ gpuClass: H100 });
    expect(evaluateOrder(wanted, capacity, terms, NOW_S)).toMatchObject({
      decline: { reason: "no-capacity" },
    });
    capacity.release("job-held");
    expect(evaluateOrder(wanted, capacity, terms, NOW_S).kind).toBe("bid");
  });

  it("declines with price-above-max when our rate is above the order's maximum by any amount", () => {
    const max = (price: bigint) => [{ meter: "gpu_ms" as const, price, per: HOUR_MS }];
    const over = evaluateOrder(
      orderFor({ gpuClass: H100 }, { maxRates: max(3n * GRID - 1n) }),
      node(),
      terms,
      NOW_S,
    );
    expect(over).toMatchObject({ kind: "decline", decline: { reason: "price-above-max" } });
    if (over.kind === "decline") expect(over.decline.detail).toContain("gpu_ms");
    // The same maximum quoted per 3.6 s instead of per hour.
    const per3600ms = [{ meter: "gpu_ms" as const, price: (3n * GRID) / 1000n, per: 3600n }];
    expect(
      evaluateOrder(orderFor({ gpuClass: H100 }, { maxRates: per3600ms }), node(), terms, NOW_S).kind,
    ).toBe("bid");
    expect(
      evaluateOrder(orderFor({ gpuClass: H100 }, { maxRates: max(3n * GRID) }), node(), terms, NOW_S).kind,
    ).toBe("bid");
  });

  it("checks the price of the class it would actually give the job", () => {
    const maxRates = [{ meter: "gpu_ms" as const, price: 2n * GRID, per: HOUR_MS }];
    // The A100 at 1 GRID is under the maximum; the H100 at 3 GRID is not.
    expect(evaluateOrder(orderFor({ gpuClass: A100 }, { maxRates }), node(), terms, NOW_S).kind).toBe("bid");
    expect(evaluateOrder(orderFor({ gpuClass: H100 }, { maxRates }), node(), terms, NOW_S)).toMatchObject({
      decline: { reason: "price-above-max" },
    });
  });

  it("gives an order that names no class the cheapest class that fits within its maxima", () => {
    // The H100 is listed first, as nvidia-smi numbers it; the A100 is cheaper.
    const any = evaluateOrder(orderFor({}), node(), terms, NOW_S);
    expect(any).toMatchObject({ kind: "bid", bid: { gpuClass: A100 } });
    // Only the H100 has the VRAM.
    expect(evaluateOrder(orderFor({ vramMiB: 80_000 }), node(), terms, NOW_S)).toMatchObject({
      bid: { gpuClass: H100 },
    });
    // The A100 busy: the H100, within a maximum that allows it.
    const capacity = node();
    capacity.reserve(
      "job-a",
      { gpus: 1, gpuClass: A100, cpuCores: 1, memMiB: 1, maxDurationS: 1 },
      Date.now() + 60_000,
    );
    const maxRates = [{ meter: "gpu_ms" as const, price: 3n * GRID, per: HOUR_MS }];
    expect(evaluateOrder(orderFor({}, { maxRates }), capacity, terms, NOW_S)).toMatchObject({
      bid: { gpuClass: H100, rates: [{ meter: "gpu_ms", price: 3n * GRID, per: HOUR_MS }, {}, {}] },
    });
  });

  it("bids with a class within the maximum when the first free class is above it", () => {
    // Dear first, cheap second: the old engine took the first free class and declined on price.
    const dearFirst: BidTerms = {
      ...terms,
      rates: priceListToRates({
        gpuHour: { [H100]: 5n * GRID, [A100]: GRID },
        cpuCoreHour: GRID / 50n,
        memGiBHour: GRID / 200n,
      }),
    };
    const maxRates = [{ meter: "gpu_ms" as const, price: 2n * GRID, per: HOUR_MS }];
    expect(evaluateOrder(orderFor({}, { maxRates }), node(), dearFirst, NOW_S)).toMatchObject({
      kind: "bid",
      bid: { gpuClass: A100 },
    });
    // Below every class: price-above-max.
    const tight = [{ meter: "gpu_ms" as const, price: GRID / 2n, per: HOUR_MS }];
    expect(evaluateOrder(orderFor({}, { maxRates: tight }), node(), dearFirst, NOW_S)).toMatchObject({
      decline: { reason: "price-above-max" },
    });
  });

  it("never bids a GPU class the operator left unpriced", () => {
    const onlyH100: BidTerms = {
      ...terms,
      rates: priceListToRates({ gpuHour: { [H100]: 3n * GRID }, cpuCoreHour: 1n, memGiBHour: 1n }),
    };
    expect(evaluateOrder(orderFor({}), node(), onlyH100, NOW_S)).toMatchObject({ bid: { gpuClass: H100 } });
    expect(evaluateOrder(orderFor({ gpuClass: A100 }), node(), onlyH100, NOW_S)).toMatchObject({
      decline: { reason: "gpu-class" },
    });
  });
});

describe("evaluateOrder, endpoint orders", () => {
  const REQUESTS = { meter: "requests" as const, price: GRID / 1000n, per: 1000n };
  const TOKENS = { meter: "tokens" as const, price: GRID / 100_000n, per: 1000n };
  const refused: Array<[string | undefined, number]> = [];
  const serving: BidTerms = {
    ...terms,
    endpoint: {
      meterToleranceMs: 1500,
      rates: [REQUESTS, TOKENS],
      refuse: (image, gpusPerReplica) => {
        refused.push([image, gpusPerReplica]);
        return image === "nope:1" ? "image nope:1 is not allowed here" : undefined;
      },
    },
  };
  /** Two replicas of one H100, 2 cores and 4 GiB each; requests and tokens capped. */
  const endpointOrder = (rest: Partial<JobOrder> = {}): JobOrder =>
    orderFor(
      { gpuClass: H100, gpus: 2, cpuCores: 4, memMiB: 8192 },
      {
        image: "llm:1",
        endpoint: { minReplicas: 0, maxReplicas: 2 },
        maxRates: [
          { meter: "requests", price: GRID, per: 1000n },
          { meter: "tokens", price: GRID, per: 1000n },
        ],
        maxUsage: { requests: 10_000n, tokens: 1_000_000n },
        ...rest,
      },
    );
  const twoH100 = () =>
    new Capacity({
      gpus: [
        { index: 0, class: H100, vramMiB: 81_559 },
        { index: 1, class: H100, vramMiB: 81_559 },
      ],
      cpuCores: 8,
      memMiB: 32_768,
      maxDurationS: 7200,
    });

  it("bids the job's rates plus requests and tokens, and the meter tolerance", () => {
    refused.length = 0;
    const result = evaluateOrder(endpointOrder(), twoH100(), serving, NOW_S);
    expect(result.kind).toBe("bid");
    if (result.kind !== "bid") return;
    expect(result.bid.rates).toEqual([
      { meter: "gpu_ms", price: 3n * GRID, per: HOUR_MS },
      { meter: "cpu_core_ms", price: GRID / 50n, per: HOUR_MS },
      { meter: "mem_mib_ms", price: GRID / 200n, per: GIB_HOUR_MIB_MS },
      REQUESTS,
      TOKENS,
    ]);
    expect(result.bid.endpoint).toEqual({ meterToleranceMs: 1500 });
    expect(bidSchema.parse(result.bid)).toEqual(result.bid);
    // The node was asked about one replica's share: one GPU.
    expect(refused).toEqual([["llm:1", 1]]);
  });

  it("prices requests or tokens only where the order caps them in maxRates and maxUsage", () => {
    const noTokenMax = endpointOrder({ maxRates: [{ meter: "requests", price: GRID, per: 1000n }] });
    const bid1 = evaluateOrder(noTokenMax, twoH100(), serving, NOW_S);
    expect(bid1.kind === "bid" && bid1.bid.rates.map((r) => r.meter)).toEqual([
      "gpu_ms",
      "cpu_core_ms",
      "mem_mib_ms",
      "requests",
    ]);
    const noCeiling = endpointOrder({ maxUsage: { tokens: 5n } });
    const bid2 = evaluateOrder(noCeiling, twoH100(), serving, NOW_S);
    expect(bid2.kind === "bid" && bid2.bid.rates.map((r) => r.meter).slice(3)).toEqual(["tokens"]);
  });

  it("declines when its requests price is above the order's maximum", () => {
    const cheap = endpointOrder({ maxRates: [{ meter: "requests", price: 1n, per: 1000n }] });
    expect(evaluateOrder(cheap, twoH100(), serving, NOW_S)).toMatchObject({
      decline: { reason: "price-above-max", detail: expect.stringContaining("requests") },
    });
  });

  it("leaves a batch job's bid as it was: no requests or tokens rates, no endpoint terms", () => {
    const batch = orderFor(
      { gpuClass: H100 },
      {
        maxRates: [{ meter: "requests", price: GRID, per: 1000n }],
        maxUsage: { requests: 10n },
      },
    );
    const withEndpoints = evaluateOrder(batch, node(), serving, NOW_S);
    expect(withEndpoints).toEqual(evaluateOrder(batch, node(), terms, NOW_S));
    expect(withEndpoints.kind === "bid" && withEndpoints.bid.endpoint).toBeUndefined();
  });

  it("declines an order whose resources do not divide evenly among its replicas", () => {
    const uneven = endpointOrder({ endpoint: { minReplicas: 1, maxReplicas: 3 } });
    const result = evaluateOrder(
      { ...uneven, requirements: { ...uneven.requirements, gpus: 0, cpuCores: 4, memMiB: 3072 } },
      twoH100(),
      serving,
      NOW_S,
    );
    expect(result).toMatchObject({
      kind: "decline",
      decline: { reason: "cpu", detail: "endpoint order: 4 CPU cores do not divide evenly among 3 replicas" },
    });
    const oddGpus = endpointOrder({ endpoint: { minReplicas: 0, maxReplicas: 2 } });
    expect(
      evaluateOrder(
        { ...oddGpus, requirements: { ...oddGpus.requirements, gpus: 1 } },
        twoH100(),
        serving,
        NOW_S,
      ),
    ).toMatchObject({ decline: { reason: "gpu-class" } });
  });

  it("declines when the node serves no endpoints, or cannot run this one's replicas", () => {
    expect(evaluateOrder(endpointOrder(), twoH100(), terms, NOW_S)).toMatchObject({
      decline: { reason: "image-not-allowed", detail: "this provider serves no endpoints" },
    });
    expect(evaluateOrder(endpointOrder({ image: "nope:1" }), twoH100(), serving, NOW_S)).toMatchObject({
      decline: { reason: "image-not-allowed", detail: "image nope:1 is not allowed here" },
    });
  });
});
