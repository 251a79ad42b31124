// Market benchmark: how the market's network and matching hold up.
//
//   npm run bench:market                     readable summary
//   npm run bench:market -- --json           progress on stderr, one JSON object as the last stdout line
//   npm run bench:market -- --runs 1 --nodes 10 --offer-seconds 5
//
// Three measurements, each repeated `--runs` times (3); the figures are medians over the runs.
//
// Offers. `--nodes` (20) real libp2p hosts on 127.0.0.1 in one process, built with the product's
// createHost: each is told of one bootstrap peer (four backbone hosts in a chain, the others on one
// of them) and finds the rest through the DHT. Half of them publish signed CapacityOffers of
// `--offer-bytes` (512, the whole gossip message) at `--offer-rate` (50/s) in total for
// `--offer-seconds` (10 s), each on its own schedule. Every host validates every offer it receives
// (envelope, schema, signature, peer binding) before gossipsub forwards it. Delivery is counted over
// all (offer, receiving host) pairs; latency is from the publish call to the host's `message` event,
// on the process's monotonic clock. Offers are signed before the run so signing does not pace it.
//
// Matching. `--book` (10,000) synthetic offers (6 GPU classes, prices, free GPUs, cores, memory)
// indexed once with createOfferIndex, then `--orders` (100,000) synthetic orders (GPU orders with
// and without a class, CPU-only orders, price caps) through matchOrder (top 10), each timed alone.
// The orders are generated before the clock starts; index building is reported apart.
//
// Order to bids. On the same network one host is a submitter with the real bid collector
// (/gridspot/bid/1.0.0); every other host answers each order like a provider's bid engine does: it
// validates the order, signs a Bid (EIP-712, the real envelope) and sends it on the real bid stream,
// then waits for the answer. Measured: from publishing a signed JobOrder to the collector holding
// every provider's verified bid; the bid window is not waited for. A few orders first warm the
// connections up and are not counted.
//
// One process plays every host, and the hosts share its CPU. Checking an envelope's signature is an
// ECDSA recovery of several milliseconds; 20 hosts on 20 machines do it in parallel, while here it
// would be done 19 times in a row for each message (about 5 CPU-seconds a second at 50 offers/s).
// So each host runs the validator, but the recovery for a given (message, sender) is computed once
// per process and its verdict shared. Signing (the provider's bid, the submitter's checks of every
// bid) is not shared: it runs on each host as it would.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { type Message, type TopicValidatorFn, TopicValidatorResult } from "@libp2p/gossipsub";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { createBidCollector } from "../../marketplace/client/collectBids.ts";
import { createLogger } from "../../marketplace/log/createLogger.ts";
import type { Bid } from "../../marketplace/messages/bid.ts";
import { type Envelope, envelope, signEnvelope } from "../../marketplace/messages/envelope.ts";
import { toJson } from "../../marketplace/messages/json.ts";
import { type CapacityOffer, capacityOffer } from "../../marketplace/messages/offer.ts";
import { type JobOrder, jobOrder } from "../../marketplace/messages/order.ts";
import type { Rate } from "../../marketplace/messages/primitives.ts";
import type { BookEntry } from "../../marketplace/offer/offerBook.ts";
import { createOfferIndex, matchOrder, type OfferOrder } from "../../marketplace/order/matchOffers.ts";
import {
  BID_FRAME_TIMEOUT_MS,
  BID_PROTOCOL,
  MAX_BID_FRAME_BYTES,
  OFFERS_TOPIC,
  ORDERS_TOPIC,
} from "../../marketplace/p2p/constants.ts";
import { createHost, type GridspotHost } from "../../marketplace/p2p/createHost.ts";
import { envelopeTopicValidator } from "../../marketplace/p2p/envelopeTopicValidator.ts";
import { frameChannel } from "../../marketplace/p2p/frames.ts";

export type MarketFigures = {
  nodes: number;
  offersDelivered: number;
  offerDeliveryRatio: number;
  offerP50Ms: number;
  offerP99Ms: number;
  matchOrdersPerSec: number;
  matchP99Ms: number;
  orderToBidsP50Ms: number;
};

export type MarketBenchParameters = {
  runs: number;
  nodes: number;
  offerRate: number;
  offerSeconds: number;
  offerBytes: number;
  book: number;
  orders: number;
  bidOrders: number;
  onProgress: (message: string) => void;
};

const CHAIN_ID = 31_337;
const BACKBONE = 4;
const HOUR_MS = 3_600_000n;
const MIB_HOUR = 3_600_000n * 1024n;
const GRID = 10n ** 18n;
const GPU_CLASSES = [
  "nvidia-h100-80gb",
  "nvidia-a100-80gb",
  "nvidia-a100-40gb",
  "nvidia-l4-24gb",
  "nvidia-t4-16gb",
  "amd-mi300x-192gb",
] as const;
/** How long stragglers may take to arrive after the last offer is published. */
const OFFER_DRAIN_MS = 5_000;
const BIDS_WAIT_MS = 5_000;
const WARMUP_ORDERS = 3;

// ---------------------------------------------------------------------------------------------
// Small helpers

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

const round = (value: number, digits = 2) => Number(value.toFixed(digits));

/** A small deterministic PRNG (mulberry32), so every run matches the same synthetic market. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const pick = <T>(random: () => number, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T;
const between = (random: () => number, lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

/**
 * One signature check per (message, sender) in this process, its verdict shared by every host that
 * validates the message (see the header). Each host still runs it before forwarding.
 */
function sharedValidator(validate: TopicValidatorFn): TopicValidatorFn {
  const verdicts = new Map<string, Promise<TopicValidatorResult>>();
  return (source, message) => {
    if (message.type !== "signed") return TopicValidatorResult.Reject;
    const key = `${message.from.toString()}:${Buffer.from(message.data).toString("base64")}`;
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
      if (verdicts.size > 50_000) verdicts.clear();
      verdict = Promise.resolve(validate(source, message));
      verdicts.set(key, verdict);
    }
    return verdict;
  };
}

const payloadOf = (message: Message): Record<string, unknown> =>
  JSON.parse((JSON.parse(new TextDecoder().decode(message.data)) as Envelope).payload) as Record<
    string,
    unknown
  >;

// ---------------------------------------------------------------------------------------------
// The network

type Node = { host: GridspotHost; account: LocalAccount };

async function startNetwork(count: number, onProgress: (m: string) => void): Promise<Node[]> {
  const nodes: Node[] = [];
  const offers = sharedValidator(
    envelopeTopicValidator({ chainId: CHAIN_ID, kind: "CapacityOffer", schema: capacityOffer, signerField: "provider" }),
  );
  const orders = sharedValidator(
    envelopeTopicValidator({ chainId: CHAIN_ID, kind: "JobOrder", schema: jobOrder, signerField: "submitter" }),
  );
  for (let i = 0; i < count; i++) {
    const boot = i === 0 ? undefined : i < BACKBONE ? i - 1 : i % BACKBONE;
    const peer = boot === undefined ? undefined : nodes[boot];
    const host = await createHost({
      privateKey: await generateKeyPair("Ed25519"),
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap: peer === undefined ? [] : [peer.host.getMultiaddrs()[0]?.toString() ?? ""],
      localNetwork: true,
      // Node 0 is the submitter (a DHT client, like the CLI); the others are providers.
      dhtServer: i !== 0,
      // Every host shares this process: a busy event loop must not be taken for dead peers.
      abortConnectionOnPingFailure: false,
    });
    host.services.pubsub.topicValidators.set(OFFERS_TOPIC, offers);
    host.services.pubsub.topicValidators.set(ORDERS_TOPIC, orders);
    host.services.pubsub.subscribe(OFFERS_TOPIC);
    host.services.pubsub.subscribe(ORDERS_TOPIC);
    nodes.push({ host, account: privateKeyToAccount(generatePrivateKey()) });
  }
  const wanted = Math.min(4, count - 1);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ready = nodes.every(
      ({ host }) =>
        new Set(host.getConnections().map((c) => c.remotePeer.toString())).size >= wanted &&
        host.services.pubsub.getSubscribers(OFFERS_TOPIC).length >= wanted &&
        host.services.pubsub.getSubscribers(ORDERS_TOPIC).length >= wanted,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`the ${count} hosts did not connect within 60 s`);
    await sleep(200);
  }
  // Let the gossip meshes settle (a few heartbeats) before anything is measured.
  await sleep(3_000);
  const peers = nodes.map(({ host }) => new Set(host.getConnections().map((c) => c.remotePeer.toString())).size);
  onProgress(`network: ${count} hosts, peers per host ${Math.min(...peers)}..${Math.max(...peers)}`);
  return nodes;
}

// ---------------------------------------------------------------------------------------------
// Offers

function benchOffer(node: Node, seq: number, pad: string): CapacityOffer {
  return {
    provider: node.account.address,
    peerId: node.host.peerId.toString(),
    addrs: [`/ip4/127.0.0.1/tcp/4001${pad}`],
    resources: [{ class: "nvidia-h100-80gb", count: 8, free: 8, vramMiB: 81_920 }],
    cpuCores: 64,
    freeCpuCores: 64,
    memMiB: 524_288,
    freeMemMiB: 524_288,
    rates: [{ meter: "gpu_ms", price: 2n * GRID, per: HOUR_MS, gpuClass: "nvidia-h100-80gb" }],
    maxDurationS: 86_400,
    seq,
  };
}

/** A signed offer whose whole gossip message is `bytes` long (padding goes into an address). */
async function signedOfferOfSize(node: Node, seq: number, bytes: number): Promise<Uint8Array> {
  const sign = async (pad: string) =>
    new TextEncoder().encode(
      toJson(
        await signEnvelope(node.account, {
          chainId: CHAIN_ID,
          kind: "CapacityOffer",
          peerId: node.host.peerId.toString(),
          expiresAt: Math.floor(Date.now() / 1000) + 600,
          payload: benchOffer(node, seq, pad),
        }),
      ),
    );
  const bare = await sign("");
  // The digits of a TCP port path: JSON needs no escaping for them, so each adds one byte.
  return bare.byteLength >= bytes ? bare : sign("0".repeat(bytes - bare.byteLength));
}

type OfferRun = { published: number; expected: number; delivered: number; latenciesMs: number[]; messageBytes: number };

async function runOffers(nodes: Node[], p: MarketBenchParameters, run: number): Promise<OfferRun> {
  const publishers = nodes.filter((_, i) => i % 2 === 1);
  const total = Math.round(p.offerRate * p.offerSeconds);
  const intervalMs = 1000 / p.offerRate;
  // seq carries the run, so no offer repeats an earlier run's message.
  const base = run * 1_000_000;
  const signed = await Promise.all(
    Array.from({ length: total }, (_, k) =>
      signedOfferOfSize(publishers[k % publishers.length] as Node, base + k, p.offerBytes),
    ),
  );
  const publishedAt = new Map<string, number>();
  const latenciesMs: number[] = [];
  const listeners = nodes.map(({ host }) => {
    const listener = (event: CustomEvent<Message>) => {
      if (event.detail.topic !== OFFERS_TOPIC) return;
      const at = performance.now();
      const offer = payloadOf(event.detail);
      const sent = publishedAt.get(`${String(offer.provider)}:${String(offer.seq)}`);
      if (sent !== undefined) latenciesMs.push(at - sent);
    };
    host.services.pubsub.addEventListener("message", listener);
    return () => host.services.pubsub.removeEventListener("message", listener);
  });
  const expected = total * (nodes.length - 1);
  const start = performance.now();
  const publishing: Promise<unknown>[] = [];
  for (let k = 0; k < total; k++) {
    const due = start + k * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const publisher = publishers[k % publishers.length] as Node;
    publishedAt.set(`${publisher.account.address}:${base + k}`, performance.now());
    publishing.push(publisher.host.services.pubsub.publish(OFFERS_TOPIC, signed[k] as Uint8Array));
  }
  await Promise.all(publishing);
  const drainUntil = performance.now() + OFFER_DRAIN_MS;
  while (latenciesMs.length < expected && performance.now() < drainUntil) await sleep(50);
  for (const stop of listeners) stop();
  return {
    published: total,
    expected,
    delivered: latenciesMs.length,
    latenciesMs,
    messageBytes: (signed[0] as Uint8Array).byteLength,
  };
}

// ---------------------------------------------------------------------------------------------
// Matching

function syntheticBook(size: number, random: () => number): BookEntry[] {
  const now = Date.now();
  return Array.from({ length: size }, (_, i) => {
    const classes = [pick(random, GPU_CLASSES)];
    if (random() < 0.3) classes.push(pick(random, GPU_CLASSES));
    const distinct = [...new Set(classes)];
    const cpuCores = between(random, 8, 128);
    const memMiB = between(random, 16, 1024) * 1024;
    const rates: Rate[] = distinct.map((gpuClass) => ({
      meter: "gpu_ms",
      price: BigInt(between(random, 20, 400)) * (GRID / 100n),
      per: HOUR_MS,
      gpuClass,
    }));
    rates.push({ meter: "cpu_core_ms", price: BigInt(between(random, 1, 50)) * (GRID / 1000n), per: HOUR_MS });
    rates.push({ meter: "mem_mib_ms", price: BigInt(between(random, 1, 20)) * (GRID / 1000n), per: MIB_HOUR });
    const offer: CapacityOffer = {
      provider: `0x${(i + 1).toString(16).padStart(40, "0")}`,
      peerId: "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
      addrs: [],
      resources: distinct.map((cls) => {
        const count = pick(random, [1, 2, 4, 8]);
        return { class: cls, count, free: between(random, 0, count), vramMiB: Number(/(\d+)gb$/.exec(cls)?.[1]) * 1024 };
      }),
      cpuCores,
      freeCpuCores: between(random, 0, cpuCores),
      memMiB,
      freeMemMiB: between(random, 0, memMiB),
      rates,
      maxDurationS: pick(random, [3_600, 21_600, 86_400, 604_800]),
      seq: 1,
    };
    return { offer, expiresAt: now + 3_600_000, receivedAt: now };
  });
}

function syntheticOrders(count: number, random: () => number): OfferOrder[] {
  return Array.from({ length: count }, () => {
    const gpus = random() < 0.15 ? 0 : pick(random, [1, 1, 1, 2, 2, 4, 8]);
    const named = gpus > 0 && random() < 0.6;
    const maxRates: Rate[] = [];
    if (gpus > 0 && random() < 0.8) {
      maxRates.push({ meter: "gpu_ms", price: BigInt(between(random, 50, 400)) * (GRID / 100n), per: HOUR_MS });
    }
    if (random() < 0.5) {
      maxRates.push({ meter: "cpu_core_ms", price: BigInt(between(random, 5, 50)) * (GRID / 1000n), per: HOUR_MS });
    }
    return {
      requirements: {
        ...(named ? { gpuClass: pick(random, GPU_CLASSES) } : {}),
        gpus,
        cpuCores: between(random, 1, 32),
        memMiB: between(random, 1, 128) * 1024,
        maxDurationS: pick(random, [600, 3_600, 14_400, 86_400]),
      },
      maxRates,
    };
  });
}

type MatchRun = { ordersPerSec: number; p50Ms: number; p99Ms: number; indexBuildMs: number; matched: number };

function runMatching(p: MarketBenchParameters, run: number): MatchRun {
  const random = prng(0x9e3779b9 + run);
  const entries = syntheticBook(p.book, random);
  const orders = syntheticOrders(p.orders, random);
  const built = performance.now();
  const index = createOfferIndex(entries);
  const indexBuildMs = performance.now() - built;
  const latencies = new Float64Array(orders.length);
  let matched = 0;
  const start = performance.now();
  for (let i = 0; i < orders.length; i++) {
    const t = performance.now();
    const result = matchOrder(index, orders[i] as OfferOrder);
    latencies[i] = performance.now() - t;
    if (result.length > 0) matched += 1;
  }
  const elapsedS = (performance.now() - start) / 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    ordersPerSec: Math.round(orders.length / elapsedS),
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    indexBuildMs,
    matched,
  };
}

// ---------------------------------------------------------------------------------------------
// Order to bids

/**
 * What each provider host does with an order (as node/bid/bidEngine.ts does when it fits): sign a
 * Bid, send it on the bid stream to the submitter, wait for the answer.
 */
function answerOrders(node: Node): () => void {
  const listener = (event: CustomEvent<Message>) => {
    if (event.detail.topic !== ORDERS_TOPIC) return;
    const order = jobOrder.parse(payloadOf(event.detail));
    void (async () => {
      const bid: Bid = {
        orderId: order.orderId,
        provider: node.account.address,
        peerId: node.host.peerId.toString(),
        addrs: [node.host.getMultiaddrs()[0]?.toString() ?? ""],
        gpuClass: "nvidia-h100-80gb",
        rates: [{ meter: "gpu_ms", price: 2n * GRID, per: HOUR_MS }],
        pricing: "fixed",
        granularity: "ms",
        receiptIntervalMs: 5_000,
        validUntil: Math.floor(Date.now() / 1000) + 60,
      };
      const signed = await signEnvelope(node.account, {
        chainId: CHAIN_ID,
        kind: "Bid",
        peerId: node.host.peerId.toString(),
        expiresAt: Math.floor(Date.now() / 1000) + 60,
        payload: bid,
      });
      const submitter = peerIdFromString(order.peerId);
      await node.host.peerStore.merge(submitter, { multiaddrs: order.addrs.map((a) => multiaddr(a)) });
      const signal = AbortSignal.timeout(order.bidWindowMs + 2 * BID_FRAME_TIMEOUT_MS);
      const stream = await node.host.dialProtocol(submitter, BID_PROTOCOL, { signal });
      const channel = frameChannel(stream, MAX_BID_FRAME_BYTES);
      try {
        await channel.write(signed, { signal });
        await channel.read(z.union([envelope, z.object({ type: z.string() })]), { signal });
      } finally {
        await channel.close();
      }
    })().catch(() => {});
  };
  node.host.services.pubsub.addEventListener("message", listener);
  return () => node.host.services.pubsub.removeEventListener("message", listener);
}

type BidRun = { allBidsMs: number[]; firstBidMs: number[]; complete: number; measured: number; providers: number };

async function runOrderToBids(nodes: Node[], p: MarketBenchParameters): Promise<BidRun> {
  const [submitter, ...providers] = nodes as [Node, ...Node[]];
  // The collector calls this for each bid it has verified, just before it keeps it: the moment the
  // bid is in hand.
  let arrivals: number[] = [];
  const bids = createBidCollector({
    host: submitter.host,
    account: submitter.account,
    chainId: CHAIN_ID,
    logger: createLogger("bench:bids", () => {}),
    isActiveProvider: async () => {
      arrivals.push(performance.now());
      return true;
    },
  });
  await bids.start();
  const stops = providers.map(answerOrders);
  const allBidsMs: number[] = [];
  const firstBidMs: number[] = [];
  let complete = 0;
  try {
    for (let i = 0; i < WARMUP_ORDERS + p.bidOrders; i++) {
      const order: JobOrder = {
        orderId: randomBytes(9).toString("base64url"),
        submitter: submitter.account.address,
        peerId: submitter.host.peerId.toString(),
        addrs: submitter.host.getMultiaddrs().map((a) => a.toString()),
        requirements: { gpuClass: "nvidia-h100-80gb", gpus: 1, cpuCores: 4, memMiB: 16_384, maxDurationS: 3_600 },
        maxRates: [{ meter: "gpu_ms", price: 3n * GRID, per: HOUR_MS }],
        bidWindowMs: 1_500,
        explain: false,
      };
      const bytes = new TextEncoder().encode(
        toJson(
          await signEnvelope(submitter.account, {
            chainId: CHAIN_ID,
            kind: "JobOrder",
            peerId: submitter.host.peerId.toString(),
            expiresAt: Math.floor(Date.now() / 1000) + 60,
            payload: order,
          }),
        ),
      );
      arrivals = [];
      bids.open(order);
      const start = performance.now();
      await submitter.host.services.pubsub.publish(ORDERS_TOPIC, bytes);
      const deadline = start + BIDS_WAIT_MS;
      while (arrivals.length < providers.length && performance.now() < deadline) await sleep(2);
      const { bids: held } = bids.close(order.orderId);
      await Promise.all(held.map((b) => bids.pass(order, b)));
      if (i < WARMUP_ORDERS) continue;
      const times = arrivals.map((t) => t - start).sort((a, b) => a - b);
      if (times.length > 0) firstBidMs.push(times[0] as number);
      if (times.length >= providers.length) {
        complete += 1;
        allBidsMs.push(times[providers.length - 1] as number);
      } else {
        allBidsMs.push(Number.POSITIVE_INFINITY);
      }
      // Orders a few hundred milliseconds apart, like separate submissions.
      await sleep(200);
    }
  } finally {
    for (const stop of stops) stop();
    await bids.stop();
  }
  return { allBidsMs, firstBidMs, complete, measured: p.bidOrders, providers: providers.length };
}

// ---------------------------------------------------------------------------------------------

export async function measureMarket(p: MarketBenchParameters): Promise<MarketFigures & Record<string, unknown>> {
  const offerRuns: OfferRun[] = [];
  const matchRuns: MatchRun[] = [];
  const bidRuns: BidRun[] = [];
  for (let run = 1; run <= p.runs; run++) {
    p.onProgress(`matching run ${run}/${p.runs}: ${p.orders} orders against ${p.book} offers`);
    const m = runMatching(p, run);
    p.onProgress(
      `  ${m.ordersPerSec.toLocaleString("en-US")} orders/s, p99 ${m.p99Ms.toFixed(4)} ms, ${m.matched} orders matched, index built in ${m.indexBuildMs.toFixed(0)} ms`,
    );
    matchRuns.push(m);
  }
  p.onProgress(`starting ${p.nodes} hosts`);
  const nodes = await startNetwork(p.nodes, p.onProgress);
  try {
    for (let run = 1; run <= p.runs; run++) {
      p.onProgress(`offers run ${run}/${p.runs}: ${p.offerRate}/s for ${p.offerSeconds} s`);
      const o = await runOffers(nodes, p, run);
      const sorted = [...o.latenciesMs].sort((a, b) => a - b);
      p.onProgress(
        `  delivered ${o.delivered}/${o.expected}, p50 ${quantile(sorted, 0.5).toFixed(1)} ms, p99 ${quantile(sorted, 0.99).toFixed(1)} ms (${o.messageBytes}-byte messages)`,
      );
      offerRuns.push(o);
      p.onProgress(`order-to-bids run ${run}/${p.runs}: ${p.bidOrders} orders, ${p.nodes - 1} providers each`);
      const b = await runOrderToBids(nodes, p);
      p.onProgress(
        `  all bids p50 ${median(b.allBidsMs).toFixed(1)} ms, first bid p50 ${median(b.firstBidMs).toFixed(1)} ms, ${b.complete}/${b.measured} orders got every bid`,
      );
      bidRuns.push(b);
    }
  } finally {
    await Promise.allSettled(nodes.map(({ host }) => host.stop()));
  }
  const offerQuantile = (o: OfferRun, q: number) =>
    quantile(
      [...o.latenciesMs].sort((a, b) => a - b),
      q,
    );
  return {
    nodes: p.nodes,
    offersDelivered: median(offerRuns.map((o) => o.delivered)),
    offerDeliveryRatio: round(median(offerRuns.map((o) => o.delivered / o.expected)), 4),
    offerP50Ms: round(median(offerRuns.map((o) => offerQuantile(o, 0.5)))),
    offerP99Ms: round(median(offerRuns.map((o) => offerQuantile(o, 0.99)))),
    matchOrdersPerSec: median(matchRuns.map((m) => m.ordersPerSec)),
    matchP99Ms: round(median(matchRuns.map((m) => m.p99Ms)), 4),
    orderToBidsP50Ms: round(median(bidRuns.map((b) => median(b.allBidsMs)))),
    runs: p.runs,
    offersPublished: offerRuns[0]?.published ?? 0,
    offerPairsExpected: offerRuns[0]?.expected ?? 0,
    offerMessageBytes: offerRuns[0]?.messageBytes ?? 0,
    offerPublishers: Math.floor(p.nodes / 2),
    offersDeliveredRuns: offerRuns.map((o) => o.delivered),
    offerP99MsRuns: offerRuns.map((o) => round(offerQuantile(o, 0.99))),
    matchBook: p.book,
    matchOrders: p.orders,
    matchP50Ms: round(median(matchRuns.map((m) => m.p50Ms)), 4),
    matchedOrders: matchRuns[0]?.matched ?? 0,
    matchIndexBuildMs: round(median(matchRuns.map((m) => m.indexBuildMs)), 1),
    matchOrdersPerSecRuns: matchRuns.map((m) => m.ordersPerSec),
    orderToBidsProviders: p.nodes - 1,
    orderToBidsOrders: p.bidOrders,
    orderToBidsComplete: bidRuns.map((b) => b.complete),
    orderToFirstBidP50Ms: round(median(bidRuns.map((b) => median(b.firstBidMs)))),
    orderToBidsP50MsRuns: bidRuns.map((b) => round(median(b.allBidsMs))),
    measuredWith:
      "one process, hosts on 127.0.0.1; each host validates each gossip message, the signature recovery shared per message (see scripts/bench/market.ts)",
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      json: { type: "boolean", default: false },
      runs: { type: "string", default: "3" },
      nodes: { type: "string", default: "20" },
      "offer-rate": { type: "string", default: "50" },
      "offer-seconds": { type: "string", default: "10" },
      "offer-bytes": { type: "string", default: "512" },
      book: { type: "string", default: "10000" },
      orders: { type: "string", default: "100000" },
      "bid-orders": { type: "string", default: "20" },
    },
    strict: true,
  });
  const int = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be an integer of at least ${min}`);
    return n;
  };
  const p: MarketBenchParameters = {
    runs: int("runs", values.runs, 1),
    nodes: int("nodes", values.nodes, 3),
    offerRate: int("offer-rate", values["offer-rate"], 1),
    offerSeconds: int("offer-seconds", values["offer-seconds"], 1),
    offerBytes: int("offer-bytes", values["offer-bytes"], 1),
    book: int("book", values.book, 1),
    orders: int("orders", values.orders, 1),
    bidOrders: int("bid-orders", values["bid-orders"], 1),
    onProgress: (message) => process.stderr.write(`${message}\n`),
  };
  const figures = await measureMarket(p);
  const text = [
    `hosts                  ${figures.nodes} on 127.0.0.1 (medians of ${p.runs} runs)`,
    `offers delivered       ${figures.offersDelivered} of ${figures.offerPairsExpected} (offer, host) pairs, ratio ${figures.offerDeliveryRatio}`,
    `offer latency          p50 ${figures.offerP50Ms} ms, p99 ${figures.offerP99Ms} ms (${figures.offerMessageBytes}-byte offers, ${p.offerRate}/s)`,
    `matching               ${figures.matchOrdersPerSec.toLocaleString("en-US")} orders/s, p99 ${figures.matchP99Ms} ms (${p.book} offers)`,
    `order to bids          p50 ${figures.orderToBidsP50Ms} ms for all ${p.nodes - 1} bids, first bid p50 ${figures.orderToFirstBidP50Ms} ms`,
  ].join("\n");
  process.stdout.write(values.json ? `${JSON.stringify(figures)}\n` : `${text}\n`);
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `bench:market failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = error instanceof RangeError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? 2 : 1;
    },
  );
}
