// The market with ten providers: separate processes, as operators run them, with different fake
// GPUs (two H100 machines... a CPU-only pair) and different prices, on one anvil chain. Submitters
// run the CLI's own client code in this process; `gridspot market …` runs as its own process. The
// providers are shared by the tests of this file and stopped in afterAll.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSubmitter } from "../../../marketplace/client/createSubmitter.ts";
import { NoBidsError, type SubmitJobReturnType, submitJob } from "../../../marketplace/client/submitJob.ts";
import { signEnvelope } from "../../../marketplace/messages/envelope.ts";
import { toJsonValue } from "../../../marketplace/messages/json.ts";
import { type JobOrder, jobOrder, type Requirements } from "../../../marketplace/messages/order.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import { quoteOrder } from "../../../marketplace/order/quoteOrder.ts";
import { BID_PROTOCOL, MAX_BID_FRAME_BYTES, ORDERS_TOPIC } from "../../../marketplace/p2p/constants.ts";
import { createHost, type GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import { frameChannel } from "../../../marketplace/p2p/frames.ts";
import {
  type ProviderInfo,
  type ProviderProcess,
  startProviderProcess,
} from "../../../scripts/lib/providerProcess.ts";
import { createCleanups } from "../support/cleanups.ts";
import { GRID, type Market, startMarket } from "../support/market.ts";
import {
  burnScript,
  GRACE_INTERVALS,
  METER_INTERVAL_MS,
  RECEIPT_INTERVAL_MS,
  type TestSubmitter,
} from "../support/nodes.ts";
import { killProcessesIn } from "../support/processesIn.ts";
import { waitFor } from "../support/waitFor.ts";

const HOUR_MS = 3_600_000n;
const H100 = "nvidia-h100-80gb";
const RTX = "nvidia-rtx4090-24gb";
const A100 = "nvidia-a100-40gb";
const T4 = "nvidia-t4-15gb";
const root = join(import.meta.dirname, "..", "..", "..");
const grid = (text: string) => (BigInt(Math.round(Number(text) * 1000)) * GRID) / 1000n;

/** The ten providers: a fake GPU profile (none = CPU only) and prices per GPU-hour and core-hour. */
const FLEET = [
  { profile: "h100x2", gpuClass: H100, gpuHour: "3", coreHour: "0.05" },
  { profile: "h100x2", gpuClass: H100, gpuHour: "2.5", coreHour: "0.05" },
  // Dynamic pricing: starts at 4 GRID and, idle, falls 10 % a second to its floor of 3.5.
  { profile: "h100x2", gpuClass: H100, gpuHour: "3.5", coreHour: "0.05" },
  { profile: "rtx4090", gpuClass: RTX, gpuHour: "0.8", coreHour: "0.05" },
  { profile: "rtx4090", gpuClass: RTX, gpuHour: "0.6", coreHour: "0.05" },
  { profile: "a100x8", gpuClass: A100, gpuHour: "1.5", coreHour: "0.05" },
  { profile: "a100x8", gpuClass: A100, gpuHour: "1.2", coreHour: "0.05" },
  { profile: "t4", gpuClass: T4, gpuHour: "0.3", coreHour: "0.05" },
  { profile: undefined, gpuClass: undefined, gpuHour: undefined, coreHour: "0.02" },
  { profile: undefined, gpuClass: undefined, gpuHour: undefined, coreHour: "0.01" },
] as const;
const MEM_GIB_HOUR = GRID / 200n;
const DYNAMIC = 2;
const DYNAMIC_CURVE = {
  base: grid("4").toString(),
  floor: grid("3.5").toString(),
  ceiling: grid("5").toString(),
  targetUtilization: 5000,
  maxStep: 1000,
};

let market: Market;
type Provider = { address: `0x${string}`; dataDir: string; info: ProviderInfo; process: ProviderProcess };
let providers: Provider[] = [];
let payer: TestSubmitter;
const cleanups = createCleanups();

beforeAll(async () => {
  market = await startMarket();
  cleanups.add(() => market.stop());
  // Wallets one at a time (one deployer nonce), then every node at once.
  const wallets: { key: Hex; dataDir: string }[] = [];
  for (const [i] of FLEET.entries()) {
    const { key } = await market.fundAccount(200n * GRID);
    wallets.push({ key, dataDir: join(market.work, `provider-${i}`) });
  }
  // Ten nodes loading at once on two cores take far longer to start than one: a generous bound.
  const started = await Promise.allSettled(
    FLEET.map(async (p, i): Promise<Provider> => {
      const { key, dataDir } = wallets[i] as { key: Hex; dataDir: string };
      const node = await startProviderProcess({
        dataDir,
        privateKey: key,
        rpcUrl: market.rpcUrl,
        deploymentsDir: market.deploymentsDir,
        gpuProfile: p.profile,
        stderr: "ignore",
        startupTimeoutMs: 120_000,
        config: {
          pricing: {
            gpuHour: p.gpuClass === undefined ? {} : { [p.gpuClass]: grid(p.gpuHour).toString() },
            cpuCoreHour: grid(p.coreHour).toString(),
            memGiBHour: MEM_GIB_HOUR.toString(),
            ...(i === DYNAMIC ? { dynamic: { epochMs: 1_000, curves: { [H100]: DYNAMIC_CURVE } } } : {}),
          },
          receipts: { intervalMs: RECEIPT_INTERVAL_MS, graceIntervals: GRACE_INTERVALS },
          runtime: {
            meterIntervalMs: METER_INTERVAL_MS,
            ...(p.profile === undefined ? { nvidiaSmi: join(dataDir, "no-nvidia-smi") } : {}),
          },
          limits: { cpuCores: 2, memMiB: 4096, maxDurationS: 600, holdMs: 30_000 },
        },
      });
      return { address: privateKeyToAccount(key).address, dataDir, info: node.info, process: node };
    }),
  );
  for (const s of started) {
    if (s.status !== "fulfilled") continue;
    const p = s.value;
    cleanups.add(() => p.process.stop());
    cleanups.add(() => killProcessesIn(join(p.dataDir, "jobs")));
  }
  const failed = started.find((s) => s.status === "rejected");
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  providers = started.map((s) => (s as PromiseFulfilledResult<Provider>).value);
  payer = await newSubmitter();
}, 150_000);
afterAll(() => cleanups.run(), 60_000);

/** A submitter connected to every provider, waiting until each one's bid engine hears its orders. */
async function newSubmitter(): Promise<TestSubmitter> {
  const { key, address } = await market.fundAccount(20n * GRID);
  const dataDir = join(market.work, `submitter-${address.slice(2, 10)}`);
  const submitter = await createSubmitter(
    {
      dataDir,
      rpcUrl: market.rpcUrl,
      deploymentsDir: market.deploymentsDir,
      bootstrap: providers.map((p) => p.info.multiaddrs[0] ?? ""),
      localNetwork: true,
    },
    privateKeyToAccount(key),
  );
  const s: TestSubmitter = { submitter, key, address, dataDir };
  cleanups.add(() => s.submitter.close());
  const { host } = await s.submitter.network();
  const live = providers.filter(
    (p) => p.process.child.exitCode === null && p.process.child.signalCode === null,
  );
  await waitFor("every provider in the submitter's orders topic", () => {
    const subscribers = new Set(host.services.pubsub.getSubscribers(ORDERS_TOPIC).map((p) => p.toString()));
    return live.every((p) => subscribers.has(p.info.peerId)) ? true : undefined;
  });
  return s;
}

const provider = (i: number) => providers[i] as Provider;

function submit(
  s: TestSubmitter,
  requirements: Partial<Requirements>,
  o: { onProgress?: (message: string) => void; maxGpuHour?: bigint } = {},
): Promise<SubmitJobReturnType> {
  return submitJob(s.submitter, {
    requirements: { gpus: 1, cpuCores: 1, memMiB: 256, maxDurationS: 120, ...requirements },
    maxRates: [{ meter: "gpu_ms", price: o.maxGpuHour ?? 5n * GRID, per: HOUR_MS }],
    budget: GRID,
    spec: { command: process.execPath, args: ["-e", burnScript(700)], env: {}, outputs: [] },
    inputs: [],
    outputDir: join(market.work, "out"),
    bidWindowMs: 1_500,
    explain: true,
    redeemWaitMs: 0,
    events: { ...(o.onProgress === undefined ? {} : { onProgress: o.onProgress }) },
  });
}

/** Runs `gridspot market …` as its own process and parses its one JSON document. */
async function cli(args: string[]): Promise<Record<string, unknown>> {
  const bootstrap = providers.flatMap((p) => ["--bootstrap", p.info.multiaddrs[0] ?? ""]);
  const run = promisify(execFile)(
    process.execPath,
    [
      join(root, "bin", "gridspot.ts"),
      "market",
      ...args,
      "--json",
      "--local-network",
      "--wait",
      "20",
      "--min-offers",
      String(FLEET.length),
      "--rpc-url",
      market.rpcUrl,
      "--deployments",
      market.deploymentsDir,
      ...bootstrap,
    ],
    { cwd: root, env: { ...process.env, GRIDSPOT_LOG: "error" }, timeout: 45_000 },
  );
  const { stdout } = await run.catch(
    (error: Error & { stdout?: string; stderr?: string; killed?: boolean }) => {
      throw new Error(
        `gridspot market ${args[0]} failed${error.killed === true ? " (timed out)" : ""}: ${error.stderr ?? ""} ${error.stdout ?? ""}`,
      );
    },
  );
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe("the market view", () => {
  it("lists every provider's offer, the price spread per class, and quotes orders from them", async () => {
    const [offers, prices, twoH100] = await Promise.all([
      cli(["offers"]),
      cli(["prices"]),
      cli([
        "quote",
        "--gpus",
        "2",
        "--gpu-class",
        H100,
        "--cpus",
        "2",
        "--mem",
        "2048",
        "--max-duration",
        "600",
      ]),
    ]);
    // The submitter's own offer book: createSubmitter listens on the offers topic too.
    const { offers: book } = await payer.submitter.network();
    const entries = await waitFor("every offer in the submitter's book", () =>
      book.size === FLEET.length ? book.offers() : undefined,
    );
    const quote = (r: Partial<Requirements>, maxRates: Rate[] = []) =>
      toJsonValue(
        quoteOrder(entries, { gpus: 1, cpuCores: 1, memMiB: 512, maxDurationS: 600, ...r }, maxRates),
      ) as Record<string, unknown>;
    const anyGpu = quote({});
    const tooDear = quote({ gpuClass: H100 }, [{ meter: "gpu_ms", price: 2n * GRID, per: HOUR_MS }]);

    const rows = offers.offers as {
      provider: string;
      gpuClass: string | null;
      gpuHour: string | null;
      cpuCoreHour: string;
    }[];
    expect(rows).toHaveLength(FLEET.length);
    for (const [i, p] of FLEET.entries()) {
      const row = rows.find((r) => r.provider === provider(i).address);
      expect(row, `provider ${i}`).toMatchObject({
        gpuClass: p.gpuClass ?? null,
        gpuHour: p.gpuHour === undefined ? null : grid(p.gpuHour).toString(),
        cpuCoreHour: grid(p.coreHour).toString(),
      });
    }

    expect(prices.classes).toEqual([
      {
        gpuClass: A100,
        providers: 2,
        freeGpus: 16,
        totalGpus: 16,
        min: "1200000000000000000",
        median: "1200000000000000000",
        max: "1500000000000000000",
      },
      {
        gpuClass: H100,
        providers: 3,
        freeGpus: 6,
        totalGpus: 6,
        min: "2500000000000000000",
        median: "3000000000000000000",
        max: "3500000000000000000",
      },
      {
        gpuClass: RTX,
        providers: 2,
        freeGpus: 2,
        totalGpus: 2,
        min: "600000000000000000",
        median: "600000000000000000",
        max: "800000000000000000",
      },
      {
        gpuClass: T4,
        providers: 1,
        freeGpus: 1,
        totalGpus: 1,
        min: "300000000000000000",
        median: "300000000000000000",
        max: "300000000000000000",
      },
    ]);

    // Any GPU: the T4 is cheapest; all eight GPU providers could take it.
    expect(anyGpu.providers).toBe(8);
    const cheapAny = anyGpu.cheapest as Record<string, unknown>;
    expect(cheapAny.provider).toBe(provider(7).address);
    expect(cheapAny.gpuClass).toBe(T4);
    // 0.3 GRID for the GPU, 0.05 for the core, the default 512 MiB at 0.005 per GiB.
    const anyHour = grid("0.3") + grid("0.05") + (512n * MEM_GIB_HOUR) / 1024n;
    expect(cheapAny.hourlyCost).toBe(anyHour.toString());
    // For the 600 s maximum each meter is floored on its own: ⌊q × 600,000 ms × price / per⌋.
    const tenMinutes = (q: bigint, price: bigint, per: bigint) => (q * 600_000n * price) / per;
    expect(cheapAny.maxDurationCost).toBe(
      (
        tenMinutes(1n, grid("0.3"), HOUR_MS) +
        tenMinutes(1n, grid("0.05"), HOUR_MS) +
        tenMinutes(512n, MEM_GIB_HOUR, HOUR_MS * 1024n)
      ).toString(),
    );

    const cheapH100 = twoH100.cheapest as Record<string, unknown>;
    expect(twoH100.providers).toBe(3);
    expect(cheapH100.provider).toBe(provider(1).address);
    const h100Hour = 2n * grid("2.5") + 2n * grid("0.05") + 2n * MEM_GIB_HOUR;
    expect(cheapH100.hourlyCost).toBe(h100Hour.toString());
    expect(cheapH100.maxDurationCost).toBe(
      (
        tenMinutes(2n, grid("2.5"), HOUR_MS) +
        tenMinutes(2n, grid("0.05"), HOUR_MS) +
        tenMinutes(2048n, MEM_GIB_HOUR, HOUR_MS * 1024n)
      ).toString(),
    );

    expect(tooDear.cheapest).toBeNull();
    expect(tooDear.misfits).toEqual([
      { reason: "gpu-class", count: 7 },
      { reason: "price-above-max", count: 3 },
    ]);
  }, 60_000);
});

describe("dynamic pricing", () => {
  it("moves an idle provider's price down each epoch to its floor, and its offers follow", async () => {
    const { offers: book } = await payer.submitter.network();
    const node = provider(DYNAMIC);
    const offered = () =>
      book
        .offers()
        .find((e) => e.offer.provider === node.address)
        ?.offer.rates.find((r) => r.meter === "gpu_ms")?.price;
    // Long past the first epochs by now: 4 → 3.6 → 3.5 (the floor), republished on each move.
    await waitFor("the floor price in the submitter's offer book", () =>
      offered() === grid("3.5") ? true : undefined,
    );
    const status = (await (await fetch(`${node.info.api}/v1/status`)).json()) as { pricing: unknown };
    expect(status.pricing).toEqual([
      {
        class: H100,
        price: grid("3.5").toString(),
        curve: {
          base: grid("4").toString(),
          floor: grid("3.5").toString(),
          ceiling: grid("5").toString(),
          targetUtilizationBps: 5000,
          maxStepBps: 1000,
        },
        lastEpoch: { utilizationBps: 0, turnedAway: 0, lostOnPrice: 0 },
      },
    ]);
  });
});

describe("auctions", () => {
  it("put each order on the cheapest provider that fits it, and explain who declined", async () => {
    const anyGpu = await submit(payer, {});
    expect(anyGpu.status).toBe("completed");
    expect(anyGpu.provider).toBe(provider(7).address);
    expect(anyGpu.gpuClass).toBe(T4);
    expect(anyGpu.explanation.seen).toBe(10);
    expect(anyGpu.explanation.bids).toBe(8);
    expect(anyGpu.explanation.reasons).toEqual([{ reason: "gpu-class", count: 2 }]);

    const h100 = await submit(payer, { gpuClass: H100 });
    expect(h100.provider).toBe(provider(1).address);
    expect(h100.explanation.text).toBe("10 providers saw the order: 7 gpu-class, 3 bid");

    const cpu = await submit(payer, { gpus: 0 });
    expect(cpu.provider).toBe(provider(9).address);
    expect(cpu.gpuClass).toBeUndefined();
    expect(cpu.explanation.bids).toBe(10);

    // Within a maximum of 1 GRID per GPU-hour, only the RTX 4090s and the T4 are left.
    const capped = await submit(payer, { vramMiB: 20_000 }, { maxGpuHour: GRID });
    expect(capped.provider).toBe(provider(4).address);
    expect(capped.explanation.reasons).toEqual([
      { reason: "price-above-max", count: 5 },
      { reason: "gpu-class", count: 2 },
      { reason: "vram", count: 1 },
    ]);
  }, 60_000);

  it("ignore forged bids: signed by a key that is not the provider they name", async () => {
    // A rogue peer hears the orders and answers each with bids of 1 base unit per GPU-hour.
    const { host: payerHost } = await payer.submitter.network();
    const rogue = privateKeyToAccount(generatePrivateKey());
    const host: GridspotHost = await createHost({
      privateKey: await generateKeyPair("Ed25519"),
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap: payerHost.getMultiaddrs().map((a) => a.toString()),
      localNetwork: true,
    });
    cleanups.add(() => host.stop());
    const victim = provider(1);
    let sent = 0;
    host.services.pubsub.subscribe(ORDERS_TOPIC);
    host.services.pubsub.addEventListener("message", (event) => {
      if (event.detail.topic !== ORDERS_TOPIC) return;
      const order = jobOrder.parse(
        JSON.parse((JSON.parse(new TextDecoder().decode(event.detail.data)) as { payload: string }).payload),
      );
      void forgeBids(host, order, rogue, victim).then((n) => {
        sent += n;
      });
    });
    await waitFor("the rogue in the submitter's orders topic", () =>
      payerHost.services.pubsub.getSubscribers(ORDERS_TOPIC).some((p) => p.equals(host.peerId))
        ? true
        : undefined,
    );
    const result = await submit(payer, { gpuClass: H100 });
    expect(sent).toBe(3);
    expect(result.status).toBe("completed");
    expect(result.provider).toBe(victim.address);
    expect(result.explanation.bids).toBe(3);
    await host.stop();
  }, 60_000);

  it("give the last GPU of a class to one of two racing submitters; the other learns it is taken", async () => {
    const other = await newSubmitter();
    const results = await Promise.allSettled([
      submit(payer, { gpuClass: T4 }),
      submit(other, { gpuClass: T4 }),
    ]);
    const won = results
      .filter((r) => r.status === "fulfilled")
      .map((r) => (r as PromiseFulfilledResult<SubmitJobReturnType>).value);
    const lost = results
      .filter((r) => r.status === "rejected")
      .map((r) => (r as PromiseRejectedResult).reason as Error);
    expect(won).toHaveLength(1);
    expect(won[0]?.provider).toBe(provider(7).address);
    expect(won[0]?.status).toBe("completed");
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(NoBidsError);
    // Either the T4 was already held when its node saw the order, or the node bid and then had to
    // back out: both say no-capacity.
    expect((lost[0] as NoBidsError).shortMessage).toMatch(/providers? saw the order: .*no-capacity/);
  }, 60_000);

  it("complete when a bidder goes offline mid-auction, with the next cheapest provider", async () => {
    // The A100s: provider 6 at 1.2 GRID, provider 5 at 1.5. Kill 6 once its bid is in.
    const cheapest = provider(6);
    let killed = false;
    const result = await submit(
      payer,
      { gpuClass: A100 },
      {
        onProgress: (message) => {
          if (!message.includes("published") || killed) return;
          killed = true;
          setTimeout(() => cheapest.process.child.kill("SIGKILL"), 600);
        },
      },
    );
    expect(killed).toBe(true);
    await cheapest.process.stop();
    expect(cheapest.process.child.signalCode).toBe("SIGKILL");
    expect(result.status).toBe("completed");
    expect(result.provider).toBe(provider(5).address);
    // The killed node bid before it died (then the Accept to it failed and the next bid won), or
    // died before it answered: nine or ten saw the order.
    expect(result.explanation.seen).toBeGreaterThanOrEqual(9);
    if (result.explanation.seen === 10) expect(result.explanation.failed).toBe(1);
  }, 60_000);
});

/**
 * Three bids the submitter must ignore: one naming the victim but signed by the rogue's key, one
 * claiming to come from the victim's address with the rogue's signature, and one honest about
 * its signer, who is not a registered provider. Returns how many were delivered.
 */
async function forgeBids(
  host: GridspotHost,
  order: JobOrder,
  rogue: ReturnType<typeof privateKeyToAccount>,
  victim: Provider,
): Promise<number> {
  const bid = {
    orderId: order.orderId,
    provider: victim.address,
    peerId: host.peerId.toString(),
    addrs: host.getMultiaddrs().map((a) => a.toString()),
    ...(order.requirements.gpuClass === undefined ? {} : { gpuClass: order.requirements.gpuClass }),
    rates: [{ meter: "gpu_ms" as const, price: 1n, per: HOUR_MS }],
    pricing: "fixed" as const,
    granularity: "ms" as const,
    receiptIntervalMs: RECEIPT_INTERVAL_MS,
    validUntil: Math.floor(Date.now() / 1000) + 60,
  };
  const sign = (payload: unknown) =>
    signEnvelope(rogue, {
      chainId: market.chain.chainId,
      kind: "Bid",
      peerId: host.peerId.toString(),
      expiresAt: Math.floor(Date.now() / 1000) + 60,
      payload,
    });
  const namesVictim = await sign(bid);
  const claimsVictim = { ...namesVictim, from: victim.address };
  const unregistered = await sign({ ...bid, provider: rogue.address });
  const peer = peerIdFromString(order.peerId);
  await host.peerStore.merge(peer, { multiaddrs: order.addrs.map((a) => multiaddr(a)) });
  let delivered = 0;
  for (const env of [namesVictim, claimsVictim, unregistered]) {
    const stream = await host.dialProtocol(peer, BID_PROTOCOL, { signal: AbortSignal.timeout(5_000) });
    const channel = frameChannel(stream, MAX_BID_FRAME_BYTES);
    await channel.write(env, { signal: AbortSignal.timeout(5_000) });
    delivered += 1;
    await channel.close().catch(() => {});
  }
  return delivered;
}
