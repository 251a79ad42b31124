// Market benchmark: how the market's network and matching hold up.
//
//   npm run bench:market                     readable summary
//   npm run bench:market -- --json           progress on stderr, one JSON object as the last stdout line
//   npm run bench:market -- --runs 1 --nodes 10 --offer-seconds 5
//
// Three measurements, each repeated `--runs` times (3); the figures are medians over the runs.
//
// Offers. `--nodes` (20) real libp2p hosts on 127.0.0.1, built with the product's createHost and
// spread over `--workers` threads of this process (one per CPU by default), so they run side by
// side as separate machines would. Each host is told of one bootstrap peer (four backbone hosts in
// a chain, the others on one of them) and finds the rest through the DHT. Half of them (as many on
// each thread) publish signed CapacityOffers at `--offer-rate` (50/s) in total for
// `--offer-seconds` (10 s), each on its own schedule; the offers are padded to `--offer-bytes`
// (512) when smaller (a real offer, with its EIP-712 envelope, is larger: the message size is
// reported). Every host validates every offer it receives (envelope, schema, signature, peer
// binding) before gossipsub forwards it. Delivery is counted over all (offer, receiving host)
// pairs; latency is from the publish call to the host's `message` event, both read on the
// process's clock (performance.timeOrigin + performance.now(), the same in every thread). Offers
// are signed before the run so signing does not pace it. Before the first run, 3 s of offers warm
// the hosts up (compiled code, settled meshes, as in long-running nodes) and are not counted.
//
// Matching. `--book` (10,000) synthetic offers (6 GPU classes, prices, free GPUs, cores, memory)
// indexed once with createOfferIndex, then `--orders` (100,000) synthetic orders (GPU orders with
// and without a class, CPU-only orders, price caps) through matchOrder (top 10), each timed alone.
// The orders are generated before the clock starts; building the index is reported apart.
//
// Order to bids. On the same network one host (a DHT client) is a submitter with the real bid
// collector (/gridspot/bid/1.0.0); every other host answers each order as a provider's bid engine
// does when it fits: it validates the order, signs a Bid (the real EIP-712 envelope) and sends it
// on the real bid stream, then waits for the answer. Measured: from publishing a signed JobOrder to
// the collector holding every provider's verified bid; the bid window is not waited for. A few
// orders first warm the connections up and are not counted.
//
// The hosts of a thread share its CPU. Checking an envelope's signature is an EIP-712 hash and an
// ECDSA recovery (about a millisecond here), which 20 machines do in parallel; here each thread
// computes it once per message and shares the verdict among its hosts, each of which still runs
// the validator. Everything else (message ids, Noise, Yamux, signing and checking bids) runs on
// each host as it would.
import { randomBytes } from "node:crypto";
import { availableParallelism, loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Message, TopicValidatorFn, TopicValidatorResult } from "@libp2p/gossipsub";
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
import { matchOrder, type OfferOrder } from "../../marketplace/order/matchOffers.ts";
import { createOfferIndex } from "../../marketplace/order/offerIndex.ts";
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
import { prng } from "./prng.ts";

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
  workers: number;
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
/** How long the submitter waits for every bid of one order. */
const BIDS_WAIT_MS = 5_000;
const WARMUP_ORDERS = 3;
/** Seconds of offers published (at the measured rate) and not counted before the first run. */
const WARMUP_OFFER_S = 3;
const NETWORK_READY_MS = 60_000;

/** Epoch milliseconds with sub-millisecond resolution, comparable across this process's threads. */
const clock = () => performance.timeOrigin + performance.now();

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

const sortNumbers = (values: readonly number[]) => [...values].sort((a, b) => a - b);
const median = (values: readonly number[]) => quantile(sortNumbers(values), 0.5);
const round = (value: number, digits = 2) => Number(value.toFixed(digits));

const pick = <T>(random: () => number, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T;
const between = (random: () => number, lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));

// =============================================================================================
// Matching (main thread, no network)

function syntheticBook(size: number, random: () => number): BookEntry[] {
  const now = Date.now();
  return Array.from({ length: size }, (_, i) => {
    const classes = [...new Set([pick(random, GPU_CLASSES), pick(random, GPU_CLASSES)])].slice(
      0,
      random() < 0.3 ? 2 : 1,
    );
    const cpuCores = between(random, 8, 128);
    const memMiB = between(random, 16, 1024) * 1024;
    const rates: Rate[] = classes.map((gpuClass) => ({
      meter: "gpu_ms",
      price: BigInt(between(random, 20, 400)) * (GRID / 100n),
      per: HOUR_MS,
      gpuClass,
    }));
    rates.push({
      meter: "cpu_core_ms",
      price: BigInt(between(random, 1, 50)) * (GRID / 1000n),
      per: HOUR_MS,
    });
    rates.push({
      meter: "mem_mib_ms",
      price: BigInt(between(random, 1, 20)) * (GRID / 1000n),
      per: MIB_HOUR,
    });
    const offer: CapacityOffer = {
      provider: `0x${(i + 1).toString(16).padStart(40, "0")}`,
      peerId: "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN",
      addrs: [],
      resources: classes.map((cls) => {
        const count = pick(random, [1, 2, 4, 8]);
        return {
          class: cls,
          count,
          free: between(random, 0, count),
          vramMiB: Number(/(\d+)gb$/.exec(cls)?.[1]) * 1024,
        };
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
    const maxRates: Rate[] = [];
    if (gpus > 0 && random() < 0.8) {
      maxRates.push({
        meter: "gpu_ms",
        price: BigInt(between(random, 50, 400)) * (GRID / 100n),
        per: HOUR_MS,
      });
    }
    if (random() < 0.5) {
      maxRates.push({
        meter: "cpu_core_ms",
        price: BigInt(between(random, 5, 50)) * (GRID / 1000n),
        per: HOUR_MS,
      });
    }
    return {
      requirements: {
        ...(gpus > 0 && random() < 0.6 ? { gpuClass: pick(random, GPU_CLASSES) } : {}),
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

// =============================================================================================
// A worker thread: some of the network's hosts, driven by the main thread.

type StartArgs = { index: number; bootstrap: string | undefined; dhtServer: boolean };
type HostStatus = { index: number; peers: number; offerSubscribers: number; orderSubscribers: number };
type OfferItem = { k: number; index: number; seq: number };
type Receipt = { key: string; at: number };
type BidRound = { allBidsMs: number[]; firstBidMs: number[]; complete: number };

type Requests = {
  start: (a: StartArgs) => { addr: string };
  status: () => HostStatus[];
  signOffers: (a: { items: OfferItem[]; bytes: number }) => { messageBytes: number };
  publishOffers: (a: { startAt: number; intervalMs: number }) => { published: Receipt[]; busy: number };
  takeReceipts: () => { receipts: Receipt[] };
  answerOrders: (a: { except: number }) => null;
  orderRound: (a: { index: number; warmup: number; orders: number; providers: number }) => BidRound;
  stop: () => null;
};
type Request = {
  [K in keyof Requests]: { id: number; op: K; args: Parameters<Requests[K]>[0] };
}[keyof Requests];

type WorkerNode = { index: number; host: GridspotHost; account: LocalAccount };

/**
 * One signature check per message in this thread, its verdict shared by every host of the
 * thread that validates the message (see the header). Each host still runs it before forwarding.
 */
function sharedValidator(validate: TopicValidatorFn): TopicValidatorFn {
  const verdicts = new Map<string, Promise<TopicValidatorResult>>();
  return (source, message) => {
    const key = Buffer.from(message.data).toString("base64");
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

function benchOffer(node: WorkerNode, seq: number, pad: string): CapacityOffer {
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

/** A signed offer of at least `bytes` as a gossip message (padding goes into a port number). */
async function signedOffer(node: WorkerNode, seq: number, bytes: number): Promise<Uint8Array> {
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
  // Digits need no JSON escaping: each one adds one byte.
  return bare.byteLength >= bytes ? bare : sign("0".repeat(bytes - bare.byteLength));
}

/**
 * What a provider host does with an order that fits (as node/bid/bidEngine.ts does): sign a Bid,
 * send it on the bid stream to the submitter, wait for the answer.
 */
function answerOrdersOn(node: WorkerNode): void {
  node.host.services.pubsub.addEventListener("message", (event: CustomEvent<Message>) => {
    if (event.detail.topic !== ORDERS_TOPIC) return;
    const order = jobOrder.parse(payloadOf(event.detail));
    void (async () => {
      const nowS = Math.floor(Date.now() / 1000);
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
        validUntil: nowS + 60,
      };
      const signed = await signEnvelope(node.account, {
        chainId: CHAIN_ID,
        kind: "Bid",
        peerId: node.host.peerId.toString(),
        expiresAt: nowS + 60,
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
  });
}

/** The submitter's side: publish orders one at a time and time the bids into the real collector. */
async function runOrders(
  submitter: WorkerNode,
  a: { warmup: number; orders: number; providers: number },
): Promise<BidRound> {
  // The collector calls this for each bid it has verified, just before it keeps it.
  let arrivals: number[] = [];
  const bids = createBidCollector({
    host: submitter.host,
    account: submitter.account,
    chainId: CHAIN_ID,
    logger: createLogger("bench:bids", () => {}),
    isActiveProvider: async () => {
      arrivals.push(clock());
      return true;
    },
  });
  await bids.start();
  const round: BidRound = { allBidsMs: [], firstBidMs: [], complete: 0 };
  try {
    for (let i = 0; i < a.warmup + a.orders; i++) {
      const order: JobOrder = {
        orderId: randomBytes(9).toString("base64url"),
        submitter: submitter.account.address,
        peerId: submitter.host.peerId.toString(),
        addrs: submitter.host.getMultiaddrs().map((m) => m.toString()),
        requirements: {
          gpuClass: "nvidia-h100-80gb",
          gpus: 1,
          cpuCores: 4,
          memMiB: 16_384,
          maxDurationS: 3_600,
        },
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
      const start = clock();
      await submitter.host.services.pubsub.publish(ORDERS_TOPIC, bytes);
      while (arrivals.length < a.providers && clock() < start + BIDS_WAIT_MS) await sleep(1);
      const { bids: held } = bids.close(order.orderId);
      await Promise.all(held.map((b) => bids.pass(order, b)));
      if (i >= a.warmup) {
        const times = sortNumbers(arrivals.map((t) => t - start));
        if (times.length > 0) round.firstBidMs.push(times[0] as number);
        const all = times.length >= a.providers;
        if (all) round.complete += 1;
        round.allBidsMs.push(all ? (times[a.providers - 1] as number) : Number.POSITIVE_INFINITY);
      }
      // Orders a little apart, like separate submissions.
      await sleep(200);
    }
  } finally {
    await bids.stop();
  }
  return round;
}

function serveWorker(): void {
  const port = parentPort;
  if (port === null) throw new Error("not a worker");
  const nodes = new Map<number, WorkerNode>();
  const offers = sharedValidator(
    envelopeTopicValidator({
      chainId: CHAIN_ID,
      kind: "CapacityOffer",
      schema: capacityOffer,
      signerField: "provider",
    }),
  );
  const orders = sharedValidator(
    envelopeTopicValidator({
      chainId: CHAIN_ID,
      kind: "JobOrder",
      schema: jobOrder,
      signerField: "submitter",
    }),
  );
  let signed: { k: number; node: WorkerNode; key: string; bytes: Uint8Array }[] = [];
  let receipts: Receipt[] = [];

  const handlers: {
    [K in keyof Requests]: (args: Parameters<Requests[K]>[0]) => Promise<ReturnType<Requests[K]>>;
  } = {
    async start(a) {
      const host = await createHost({
        privateKey: await generateKeyPair("Ed25519"),
        listen: ["/ip4/127.0.0.1/tcp/0"],
        bootstrap: a.bootstrap === undefined ? [] : [a.bootstrap],
        localNetwork: true,
        dhtServer: a.dhtServer,
        // Many hosts share a thread: a busy event loop must not be taken for dead peers.
        abortConnectionOnPingFailure: false,
      });
      const pubsub = host.services.pubsub;
      pubsub.topicValidators.set(OFFERS_TOPIC, offers);
      pubsub.topicValidators.set(ORDERS_TOPIC, orders);
      pubsub.addEventListener("message", (event: CustomEvent<Message>) => {
        if (event.detail.topic !== OFFERS_TOPIC) return;
        const at = clock();
        const offer = payloadOf(event.detail);
        receipts.push({ key: `${String(offer.provider)}:${String(offer.seq)}`, at });
      });
      pubsub.subscribe(OFFERS_TOPIC);
      pubsub.subscribe(ORDERS_TOPIC);
      nodes.set(a.index, { index: a.index, host, account: privateKeyToAccount(generatePrivateKey()) });
      return { addr: host.getMultiaddrs()[0]?.toString() ?? "" };
    },
    async status() {
      return [...nodes.values()].map(({ index, host }) => ({
        index,
        peers: new Set(host.getConnections().map((c) => c.remotePeer.toString())).size,
        offerSubscribers: host.services.pubsub.getSubscribers(OFFERS_TOPIC).length,
        orderSubscribers: host.services.pubsub.getSubscribers(ORDERS_TOPIC).length,
      }));
    },
    async signOffers(a) {
      signed = await Promise.all(
        a.items.map(async ({ k, index, seq }) => {
          const node = nodes.get(index) as WorkerNode;
          return {
            k,
            node,
            key: `${node.account.address}:${seq}`,
            bytes: await signedOffer(node, seq, a.bytes),
          };
        }),
      );
      return { messageBytes: signed[0]?.bytes.byteLength ?? 0 };
    },
    async publishOffers(a) {
      const before = performance.eventLoopUtilization();
      const published: Receipt[] = [];
      const publishing: Promise<unknown>[] = [];
      for (const item of signed.sort((x, y) => x.k - y.k)) {
        const wait = a.startAt + item.k * a.intervalMs - clock();
        if (wait > 1) await sleep(wait);
        published.push({ key: item.key, at: clock() });
        publishing.push(item.node.host.services.pubsub.publish(OFFERS_TOPIC, item.bytes));
      }
      await Promise.all(publishing);
      // How busy this thread was while its hosts published and relayed: near 1 means saturated.
      return { published, busy: performance.eventLoopUtilization(before).utilization };
    },
    async takeReceipts() {
      const taken = receipts;
      receipts = [];
      return { receipts: taken };
    },
    async answerOrders(a) {
      for (const node of nodes.values()) if (node.index !== a.except) answerOrdersOn(node);
      return null;
    },
    async orderRound(a) {
      return runOrders(nodes.get(a.index) as WorkerNode, a);
    },
    async stop() {
      await Promise.allSettled([...nodes.values()].map(({ host }) => host.stop()));
      return null;
    },
  };

  port.on("message", (request: Request) => {
    const handler = handlers[request.op] as (args: unknown) => Promise<unknown>;
    handler(request.args).then(
      (result) => port.postMessage({ id: request.id, result }),
      (error: Error) => port.postMessage({ id: request.id, error: error.stack ?? error.message }),
    );
  });
}

// =============================================================================================
// The main thread's view of the network

type Network = {
  call<K extends keyof Requests>(
    worker: number,
    op: K,
    args: Parameters<Requests[K]>[0],
  ): Promise<ReturnType<Requests[K]>>;
  all<K extends keyof Requests>(op: K, args: Parameters<Requests[K]>[0]): Promise<ReturnType<Requests[K]>[]>;
  workerOf(index: number): number;
  close(): Promise<void>;
};

function openNetwork(workers: number): Network {
  const threads = Array.from(
    { length: workers },
    () => new Worker(new URL(import.meta.url), { workerData: { role: "hosts" } }),
  );
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  for (const thread of threads) {
    thread.on("message", (reply: { id: number; result?: unknown; error?: string }) => {
      const waiter = pending.get(reply.id);
      pending.delete(reply.id);
      if (reply.error !== undefined) waiter?.reject(new Error(reply.error));
      else waiter?.resolve(reply.result);
    });
    thread.on("error", (error) => {
      for (const waiter of pending.values()) waiter.reject(error);
      pending.clear();
    });
  }
  const call: Network["call"] = (worker, op, args) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      threads[worker]?.postMessage({ id, op, args });
    });
  return {
    call,
    all: (op, args) => Promise.all(threads.map((_, w) => call(w, op, args))),
    workerOf: (index) => index % workers,
    async close() {
      await Promise.allSettled(threads.map((_, w) => call(w, "stop", undefined)));
      await Promise.all(threads.map((t) => t.terminate()));
    },
  };
}

async function startHosts(net: Network, p: MarketBenchParameters): Promise<void> {
  const addrs: string[] = [];
  for (let i = 0; i < p.nodes; i++) {
    const boot = i === 0 ? undefined : i < BACKBONE ? i - 1 : i % BACKBONE;
    const { addr } = await net.call(net.workerOf(i), "start", {
      index: i,
      bootstrap: boot === undefined ? undefined : addrs[boot],
      // The last host is the submitter (a DHT client, like the CLI); the others are providers.
      dhtServer: i !== p.nodes - 1,
    });
    addrs.push(addr);
  }
  const wanted = Math.min(4, p.nodes - 1);
  const deadline = Date.now() + NETWORK_READY_MS;
  for (;;) {
    const status = (await net.all("status", undefined)).flat();
    const ready = status.every(
      (s) => s.peers >= wanted && s.offerSubscribers >= wanted && s.orderSubscribers >= wanted,
    );
    if (ready) {
      const peers = status.map((s) => s.peers);
      p.onProgress(
        `network: ${p.nodes} hosts on ${p.workers} threads, peers per host ${Math.min(...peers)}..${Math.max(...peers)}`,
      );
      break;
    }
    if (Date.now() > deadline) {
      const state = status.map(
        (s) => `#${s.index} ${s.peers} peers ${s.offerSubscribers}/${s.orderSubscribers} subscribers`,
      );
      throw new Error(
        `the ${p.nodes} hosts did not connect within ${NETWORK_READY_MS} ms: ${state.join("; ")}`,
      );
    }
    await sleep(200);
  }
  // Let the gossip meshes settle (a few heartbeats) before anything is measured.
  await sleep(3_000);
}

type OfferRun = {
  expected: number;
  delivered: number;
  latenciesMs: number[];
  messageBytes: number;
  published: number;
  /** Event-loop utilization of each thread during the publishing window. */
  busy: number[];
};

async function runOffers(
  net: Network,
  p: MarketBenchParameters,
  run: number,
  seconds = p.offerSeconds,
): Promise<OfferRun> {
  // Every other host, half of them on each of two threads (hosts go to threads round-robin).
  const publishers = Array.from({ length: p.nodes }, (_, i) => i).filter((i) => i % 4 === 1 || i % 4 === 2);
  const total = Math.round(p.offerRate * seconds);
  const byWorker = new Map<number, OfferItem[]>();
  for (let k = 0; k < total; k++) {
    const index = publishers[k % publishers.length] as number;
    const items = byWorker.get(net.workerOf(index)) ?? [];
    // seq carries the run, so no offer repeats an earlier run's message.
    items.push({ k, index, seq: run * 1_000_000 + k });
    byWorker.set(net.workerOf(index), items);
  }
  const sizes = await Promise.all(
    Array.from({ length: p.workers }, (_, w) =>
      net.call(w, "signOffers", { items: byWorker.get(w) ?? [], bytes: p.offerBytes }),
    ),
  );
  await net.all("takeReceipts", undefined);
  const startAt = clock() + 500;
  const results = await net.all("publishOffers", { startAt, intervalMs: 1000 / p.offerRate });
  const published = results.flatMap((r) => r.published);
  const sentAt = new Map(published.map((r) => [r.key, r.at]));
  const expected = total * (p.nodes - 1);
  const latenciesMs: number[] = [];
  const drainUntil = clock() + OFFER_DRAIN_MS;
  for (;;) {
    for (const { receipts } of await net.all("takeReceipts", undefined)) {
      for (const r of receipts) {
        const sent = sentAt.get(r.key);
        if (sent !== undefined) latenciesMs.push(r.at - sent);
      }
    }
    if (latenciesMs.length >= expected || clock() > drainUntil) break;
    await sleep(200);
  }
  return {
    expected,
    delivered: latenciesMs.length,
    latenciesMs,
    messageBytes: Math.max(...sizes.map((s) => s.messageBytes)),
    published: published.length,
    busy: results.map((r) => round(r.busy, 2)),
  };
}

// =============================================================================================

export async function measureMarket(
  p: MarketBenchParameters,
): Promise<MarketFigures & Record<string, unknown>> {
  // Other work on the machine competes with the hosts for CPU: recorded to read the figures by.
  const loadBefore = round(loadavg()[0] ?? 0);
  const matchRuns: MatchRun[] = [];
  for (let run = 1; run <= p.runs; run++) {
    p.onProgress(`matching run ${run}/${p.runs}: ${p.orders} orders against ${p.book} offers`);
    const m = runMatching(p, run);
    p.onProgress(
      `  ${m.ordersPerSec.toLocaleString("en-US")} orders/s, p50 ${m.p50Ms.toFixed(4)} ms, p99 ${m.p99Ms.toFixed(4)} ms, ${m.matched} orders matched, index built in ${m.indexBuildMs.toFixed(0)} ms`,
    );
    matchRuns.push(m);
  }
  p.onProgress(`starting ${p.nodes} hosts on ${p.workers} threads`);
  const net = openNetwork(p.workers);
  const offerRuns: OfferRun[] = [];
  const bidRuns: BidRound[] = [];
  const submitter = p.nodes - 1;
  try {
    await startHosts(net, p);
    await net.all("answerOrders", { except: submitter });
    // Long-running nodes have their code compiled and their meshes settled: so should the hosts
    // before anything is counted.
    p.onProgress(`warming up: offers at ${p.offerRate}/s for ${WARMUP_OFFER_S} s, not counted`);
    await runOffers(net, p, 0, WARMUP_OFFER_S);
    for (let run = 1; run <= p.runs; run++) {
      p.onProgress(`offers run ${run}/${p.runs}: ${p.offerRate}/s for ${p.offerSeconds} s`);
      const o = await runOffers(net, p, run);
      const sorted = sortNumbers(o.latenciesMs);
      p.onProgress(
        `  delivered ${o.delivered}/${o.expected}, p50 ${quantile(sorted, 0.5).toFixed(1)} ms, p99 ${quantile(sorted, 0.99).toFixed(1)} ms (${o.messageBytes}-byte messages), threads busy ${o.busy.join(", ")}`,
      );
      offerRuns.push(o);
      p.onProgress(
        `order-to-bids run ${run}/${p.runs}: ${p.bidOrders} orders, ${p.nodes - 1} providers each`,
      );
      const b = await net.call(net.workerOf(submitter), "orderRound", {
        index: submitter,
        warmup: WARMUP_ORDERS,
        orders: p.bidOrders,
        providers: p.nodes - 1,
      });
      p.onProgress(
        `  all bids p50 ${median(b.allBidsMs).toFixed(1)} ms, first bid p50 ${median(b.firstBidMs).toFixed(1)} ms, ${b.complete}/${p.bidOrders} orders got every bid`,
      );
      bidRuns.push(b);
    }
  } finally {
    await net.close();
  }
  const offerQuantile = (o: OfferRun, q: number) => quantile(sortNumbers(o.latenciesMs), q);
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
    workers: p.workers,
    offersPublished: offerRuns[0]?.published ?? 0,
    offerPairsExpected: offerRuns[0]?.expected ?? 0,
    offerMessageBytes: offerRuns[0]?.messageBytes ?? 0,
    offerPublishers: Math.floor(p.nodes / 2),
    offersDeliveredRuns: offerRuns.map((o) => o.delivered),
    offerP50MsRuns: offerRuns.map((o) => round(offerQuantile(o, 0.5))),
    offerP99MsRuns: offerRuns.map((o) => round(offerQuantile(o, 0.99))),
    offerThreadBusyRuns: offerRuns.map((o) => o.busy),
    matchBook: p.book,
    matchOrders: p.orders,
    matchedOrders: matchRuns[0]?.matched ?? 0,
    matchP50Ms: round(median(matchRuns.map((m) => m.p50Ms)), 4),
    matchIndexBuildMs: round(median(matchRuns.map((m) => m.indexBuildMs)), 1),
    matchOrdersPerSecRuns: matchRuns.map((m) => m.ordersPerSec),
    orderToBidsProviders: p.nodes - 1,
    orderToBidsOrders: p.bidOrders,
    orderToBidsComplete: bidRuns.map((b) => b.complete),
    orderToFirstBidP50Ms: round(median(bidRuns.map((b) => median(b.firstBidMs)))),
    orderToBidsP50MsRuns: bidRuns.map((b) => round(median(b.allBidsMs))),
    cpus: availableParallelism(),
    loadAverage1mBefore: loadBefore,
    loadAverage1mAfter: round(loadavg()[0] ?? 0),
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      json: { type: "boolean", default: false },
      runs: { type: "string", default: "3" },
      nodes: { type: "string", default: "20" },
      workers: { type: "string", default: String(Math.max(2, availableParallelism())) },
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
    if (!Number.isInteger(n) || n < min)
      throw new RangeError(`--${name} must be an integer of at least ${min}`);
    return n;
  };
  const nodes = int("nodes", values.nodes, 3);
  const p: MarketBenchParameters = {
    runs: int("runs", values.runs, 1),
    nodes,
    workers: Math.min(nodes, int("workers", values.workers, 1)),
    offerRate: int("offer-rate", values["offer-rate"], 1),
    offerSeconds: int("offer-seconds", values["offer-seconds"], 1),
    offerBytes: int("offer-bytes", values["offer-bytes"], 1),
    book: int("book", values.book, 1),
    orders: int("orders", values.orders, 1),
    bidOrders: int("bid-orders", values["bid-orders"], 1),
    onProgress: (message) => process.stderr.write(`${message}\n`),
  };
  const f = await measureMarket(p);
  const text = [
    `hosts                  ${f.nodes} on 127.0.0.1, ${p.workers} threads, ${f.cpus} CPUs, load ${f.loadAverage1mBefore} (medians of ${p.runs} runs)`,
    `offers delivered       ${f.offersDelivered} of ${f.offerPairsExpected} (offer, host) pairs, ratio ${f.offerDeliveryRatio}`,
    `offer latency          p50 ${f.offerP50Ms} ms, p99 ${f.offerP99Ms} ms (${f.offerMessageBytes}-byte offers, ${p.offerRate}/s)`,
    `matching               ${f.matchOrdersPerSec.toLocaleString("en-US")} orders/s, p99 ${f.matchP99Ms} ms (${p.book} offers)`,
    `order to bids          p50 ${f.orderToBidsP50Ms} ms for all ${p.nodes - 1} bids, first bid p50 ${f.orderToFirstBidP50Ms} ms`,
  ].join("\n");
  process.stdout.write(values.json ? `${JSON.stringify(f)}\n` : `${text}\n`);
  return 0;
}

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === "hosts") {
  serveWorker();
} else if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `bench:market failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      const usage =
        error instanceof RangeError ||
        String((error as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS");
      process.exitCode = usage ? 2 : 1;
    },
  );
}
