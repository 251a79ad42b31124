// Malformed, oversized and forged messages on every protocol of the market: the orders topic and
// the job protocol of a provider node (its own process), the bid protocol of a submitter (this
// process). Each is refused, nothing forged takes effect, and the nodes go on serving: the file
// ends with a normal job, run and redeemed.

import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Stream } from "@libp2p/interface";
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { computeTokenAbi, providerRegistryAbi } from "../../marketplace/chain/artifacts.generated.ts";
import { createChainClients } from "../../marketplace/chain/clients.ts";
import type { Submitter } from "../../marketplace/client/createSubmitter.ts";
import { ensureChannel } from "../../marketplace/client/ensureChannel.ts";
import { runJobClient } from "../../marketplace/client/runJobClient.ts";
import { claimChannel, insertSubmitterJob } from "../../marketplace/client/submitterStore.ts";
import { withDefaultMaxRates } from "../../marketplace/client/withDefaultMaxRates.ts";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import type { Bid } from "../../marketplace/messages/bid.ts";
import { type Envelope, type MessageKind, signEnvelope } from "../../marketplace/messages/envelope.ts";
import { providerFrame } from "../../marketplace/messages/job.ts";
import { toJson } from "../../marketplace/messages/json.ts";
import type { JobOrder } from "../../marketplace/messages/order.ts";
import {
  BID_PROTOCOL,
  JOB_PROTOCOL,
  MAX_BID_FRAME_BYTES,
  MAX_GOSSIP_MESSAGE_BYTES,
  MAX_JOB_FRAME_BYTES,
  ORDERS_TOPIC,
} from "../../marketplace/p2p/constants.ts";
import type { GridspotHost } from "../../marketplace/p2p/createHost.ts";
import { FrameError, frameChannel } from "../../marketplace/p2p/frames.ts";
import { createCleanups } from "./support/cleanups.ts";
import { GRID, type Market, startMarket } from "./support/market.ts";
import {
  burnScript,
  createTestSubmitter,
  GPU_CLASS,
  PRICES,
  startTestProvider,
  submitBurnJob,
  type TestProvider,
  type TestSubmitter,
} from "./support/nodes.ts";
import { createRawPeer, type RawPeer, rawFrame, varint } from "./support/rawPeer.ts";
import { waitFor } from "./support/waitFor.ts";

const HOUR_MS = 3_600_000n;
const newId = () => randomBytes(9).toString("base64url");
const nowS = () => Math.floor(Date.now() / 1000);

let market: Market;
let provider: TestProvider;
let payer: TestSubmitter;
let payerHost: GridspotHost;
let bids: Awaited<ReturnType<Submitter["network"]>>["bids"];
let raw: RawPeer;
/** Order ids the submitter's host received on the orders topic: what the provider forwarded. */
const forwarded: string[] = [];
const cleanups = createCleanups();

beforeAll(async () => {
  market = await startMarket();
  cleanups.add(() => market.stop());
  // Debug logs carry the reason each order was rejected for.
  provider = await startTestProvider(market, { env: { GRIDSPOT_LOG: "debug" } });
  cleanups.add(() => provider.stop());
  payer = await createTestSubmitter(market, [provider]);
  cleanups.add(() => payer.submitter.close());
  ({ host: payerHost, bids } = await payer.submitter.network());
  payerHost.services.pubsub.addEventListener("message", (event) => {
    if (event.detail.topic !== ORDERS_TOPIC) return;
    try {
      const env = JSON.parse(new TextDecoder().decode(event.detail.data)) as { payload: string };
      forwarded.push(String((JSON.parse(env.payload) as { orderId?: unknown }).orderId));
    } catch {
      forwarded.push("(unparsable)");
    }
  });

  // The raw peer's wallet is a registered provider, so a bid it signs for itself is a real bid.
  const { key } = await market.fundAccount(200n * GRID);
  raw = await createRawPeer({ key, connectTo: [provider.info.multiaddrs[0] ?? ""] });
  cleanups.add(() => raw.stop());
  await registerAsProvider(key, raw.peerId);
  await waitFor("the provider in the submitter's orders mesh", () =>
    payerHost.services.pubsub.getSubscribers(ORDERS_TOPIC).length > 0 ? true : undefined,
  );
});
afterAll(() => cleanups.run());

async function registerAsProvider(key: Hex, peerId: string): Promise<void> {
  const { publicClient, walletClient } = await createChainClients({ rpcUrl: market.rpcUrl, privateKey: key });
  const { providerRegistry: registry, computeToken: token } = market.deployment.contracts;
  const stake = market.deployment.parameters.registry.minStake;
  const approve = await walletClient.writeContract({
    address: token,
    abi: computeTokenAbi,
    functionName: "approve",
    args: [registry, stake],
  });
  expect((await publicClient.waitForTransactionReceipt({ hash: approve })).status).toBe("success");
  const register = await walletClient.writeContract({
    address: registry,
    abi: providerRegistryAbi,
    functionName: "register",
    args: [peerId, "", stake],
  });
  expect((await publicClient.waitForTransactionReceipt({ hash: register })).status).toBe("success");
}

/** Signs with the raw peer's key, as that peer unless told otherwise (another chain, peer id or expiry). */
function signAsRaw(
  kind: MessageKind,
  payload: unknown,
  o: { chainId?: number; peerId?: string; expiresAt?: number } = {},
): Promise<Envelope> {
  return signEnvelope(raw.account, {
    chainId: o.chainId ?? market.chain.chainId,
    kind,
    peerId: o.peerId ?? raw.peerId,
    expiresAt: o.expiresAt ?? nowS() + 60,
    payload,
  });
}

const requirements = { gpus: 1, gpuClass: GPU_CLASS, cpuCores: 1, memMiB: 512, maxDurationS: 60 };
// Every meter the providers price needs a maximum, or the collector refuses the bid.
const maxRates = withDefaultMaxRates([{ meter: "gpu_ms" as const, price: 5n * GRID, per: HOUR_MS }]);

function rawOrder(orderId: string, submitter: Address = raw.account.address): JobOrder {
  return {
    orderId,
    submitter,
    peerId: raw.peerId,
    addrs: raw.host.getMultiaddrs().map((a) => a.toString()),
    requirements,
    maxRates,
    bidWindowMs: 1_000,
    explain: true,
  };
}

/** How many debug lines say an order was rejected for `reason`. */
function rejections(reason: string): number {
  return provider
    .log()
    .split("\n")
    .filter((l) => l.includes(`order rejected reason=${reason} `)).length;
}

/** The stream ends from the other side with no frame for us: a refusal, not a timeout. */
async function expectClosedWithoutAnswer(channel: ReturnType<typeof frameChannel>): Promise<void> {
  const error = await channel.read(z.unknown(), { signal: AbortSignal.timeout(10_000) }).then(
    (frame) => {
      throw new Error(`expected the stream to be closed, got ${JSON.stringify(frame)}`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FrameError);
  expect(((error as FrameError).cause as Error).name).toBe("UnexpectedEOFError");
}

describe("the orders topic", () => {
  it("rejects non-JSON, wrong-schema, badly signed, other-chain, peer-mismatched, forged and oversized orders", async () => {
    // A valid order from the same peer first: the provider answers it and forwards it.
    const first = newId();
    await raw.publish(toJson(await signAsRaw("JobOrder", rawOrder(first))));
    await waitFor("a bid for the valid order", () =>
      raw.answers.some((a) => a.orderId === first) ? true : undefined,
    );
    await waitFor("the valid order forwarded", () => (forwarded.includes(first) ? true : undefined));
    expect(raw.answers.find((a) => a.orderId === first)?.kind).toBe("Bid");

    const ids = {
      schema: newId(),
      notEnvelope: newId(),
      badSignature: newId(),
      otherChain: newId(),
      peerMismatch: newId(),
      forgedSubmitter: newId(),
      stale: newId(),
      oversized: newId(),
    };
    const tampered = await signAsRaw("JobOrder", rawOrder(ids.badSignature));
    tampered.payload = tampered.payload.replace('"gpus":1', '"gpus":2');
    const bad: (string | Envelope | Record<string, unknown>)[] = [
      "this is not JSON {",
      { kind: "JobOrder", orderId: ids.notEnvelope },
      await signAsRaw("JobOrder", { orderId: ids.schema, submitter: raw.account.address, hello: "world" }),
      tampered,
      await signAsRaw("JobOrder", rawOrder(ids.otherChain), { chainId: market.chain.chainId + 1 }),
      await signAsRaw("JobOrder", rawOrder(ids.peerMismatch), { peerId: payerHost.peerId.toString() }),
      await signAsRaw("JobOrder", rawOrder(ids.forgedSubmitter, payer.address)),
      await signAsRaw("JobOrder", rawOrder(ids.stale), { expiresAt: nowS() - 1 }),
      // Well signed and valid but for its size: over the 16 KiB a gossiped order may have.
      await signAsRaw("JobOrder", { ...rawOrder(ids.oversized), pad: "x".repeat(MAX_GOSSIP_MESSAGE_BYTES) }),
    ];
    for (const message of bad) await raw.publish(typeof message === "string" ? message : toJson(message));
    // A valid order after them: the peer is still heard.
    const last = newId();
    await raw.publish(toJson(await signAsRaw("JobOrder", rawOrder(last))));
    await waitFor("a bid for the valid order after the bad ones", () =>
      raw.answers.some((a) => a.orderId === last) ? true : undefined,
    );
    await waitFor("the valid order after the bad ones forwarded", () =>
      forwarded.includes(last) ? true : undefined,
    );

    // Each refusal is logged with its reason (non-JSON and a JSON non-envelope are both malformed).
    await waitFor("every rejection logged", () =>
      rejections("malformed") >= 2 &&
      rejections("schema") >= 1 &&
      rejections("bad-signature") >= 3 &&
      rejections("peer-mismatch") >= 1 &&
      rejections("stale") >= 1
        ? true
        : undefined,
    );
    expect(rejections("malformed")).toBe(2);
    expect(rejections("schema")).toBe(1);
    expect(rejections("bad-signature")).toBe(3); // tampered payload, other chain, forged submitter
    expect(rejections("peer-mismatch")).toBe(1);
    expect(rejections("stale")).toBe(1);
    // Past the transport's own limit (twice the message limit) gossipsub drops the whole RPC, and
    // with it the sender's stream: this one goes last, since the peer is not heard on the topic after.
    const huge = newId();
    await raw.publish(
      toJson(
        await signAsRaw("JobOrder", { ...rawOrder(huge), pad: "x".repeat(3 * MAX_GOSSIP_MESSAGE_BYTES) }),
      ),
    );
    // None was answered, and none was passed on to the rest of the network.
    await sleep(500);
    const names = new Map<string, string>([
      ...Object.entries(ids).map(([name, id]) => [id, name] as const),
      [huge, "huge"],
    ]);
    const nameOf = (id: string) => names.get(id) ?? (id === "(unparsable)" ? id : undefined);
    expect({
      answered: raw.answers.map((a) => nameOf(a.orderId)).filter((n) => n !== undefined),
      forwarded: forwarded.map(nameOf).filter((n) => n !== undefined),
    }).toEqual({ answered: [], forwarded: [] });
    expect(forwarded.filter((id) => id === first || id === last)).toEqual([first, last]);
  });
});

describe("the bid protocol (on the submitter)", () => {
  it("drops garbage, oversized and forged bids and keeps only the genuine one", async () => {
    const order: JobOrder = {
      orderId: newId(),
      submitter: payer.address,
      peerId: payerHost.peerId.toString(),
      addrs: [],
      requirements,
      maxRates,
      bidWindowMs: 1_000,
      explain: false,
    };
    bids.open(order);
    const bid = (named: Address): Bid => ({
      orderId: order.orderId,
      provider: named,
      peerId: raw.peerId,
      addrs: [],
      gpuClass: GPU_CLASS,
      rates: [{ meter: "gpu_ms", price: PRICES.gpuHour, per: HOUR_MS }],
      pricing: "fixed",
      granularity: "ms",
      receiptIntervalMs: 500,
      validUntil: nowS() + 60,
    });
    const open = async () => {
      const addrs = payerHost.getMultiaddrs().map((a) => a.toString());
      const stream: Stream = await raw.dial(payerHost.peerId.toString(), BID_PROTOCOL, addrs);
      return { stream, channel: frameChannel(stream, 4 * MAX_BID_FRAME_BYTES) };
    };

    // The genuine bid: the raw peer's key is a registered provider and names itself.
    const genuine = await open();
    await genuine.channel.write(await signAsRaw("Bid", bid(raw.account.address)));

    const garbage = await open();
    garbage.stream.send(rawFrame("\u0000\u0001 not json"));
    const oversized = await open();
    await oversized.channel.write({ pad: "x".repeat(MAX_BID_FRAME_BYTES) });
    // Signed by the raw key but naming the real provider as the bidder.
    const namesAnother = await open();
    await namesAnother.channel.write(await signAsRaw("Bid", bid(provider.address)));
    // Claims to come from the real provider, signed by the raw key.
    const claimsAnother = await open();
    const impostor = await signAsRaw("Bid", bid(provider.address));
    await claimsAnother.channel.write({ ...impostor, from: provider.address });
    // Signed for another peer than the one sending it.
    const otherPeer = await open();
    await otherPeer.channel.write(
      await signAsRaw("Bid", bid(raw.account.address), { peerId: provider.info.peerId }),
    );
    // Properly signed by a key that is not a registered provider.
    const unregistered = await open();
    const stranger = await market.fundAccount(0n);
    const strangerAccount = privateKeyToAccount(stranger.key);
    await unregistered.channel.write(
      await signEnvelope(strangerAccount, {
        chainId: market.chain.chainId,
        kind: "Bid",
        peerId: raw.peerId,
        expiresAt: nowS() + 60,
        payload: bid(stranger.address),
      }),
    );

    for (const refused of [garbage, oversized, namesAnother, claimsAnother, otherPeer, unregistered])
      await expectClosedWithoutAnswer(refused.channel);
    // The genuine bid was checked on-chain (isActive) concurrently with the others: let it land.
    await sleep(500);
    const { bids: kept } = bids.close(order.orderId);
    expect(kept.map((b) => b.bid.provider)).toEqual([raw.account.address]);
    // Its stream was kept open for the answer, and gets one.
    const genuineBid = kept[0];
    if (genuineBid === undefined) throw new Error("no genuine bid");
    await bids.pass(order, genuineBid);
    const answer = await genuine.channel.read(z.object({ kind: z.string(), from: z.string() }), {
      signal: AbortSignal.timeout(5_000),
    });
    expect(answer).toEqual(expect.objectContaining({ kind: "BidAnswer", from: payer.address }));
  });
});

describe("the job protocol (on the provider)", () => {
  const agreementFor = (jobId: string): Agreement => ({
    jobId,
    orderId: newId(),
    submitter: raw.account.address,
    submitterPeerId: raw.peerId,
    provider: provider.address,
    providerPeerId: provider.info.peerId,
    escrow: market.deployment.contracts.computeEscrow,
    gpuClass: GPU_CLASS,
    gpus: 1,
    cpuCores: 1,
    memMiB: 512,
    maxDurationS: 60,
    rates: [{ meter: "gpu_ms", price: PRICES.gpuHour, per: HOUR_MS }],
    maxRates: [{ meter: "gpu_ms", price: PRICES.gpuHour, per: HOUR_MS }],
    pricing: "fixed",
    granularity: "ms",
    receiptIntervalMs: 500,
    graceIntervals: 2,
    startBy: nowS() + 60,
  });
  const startPayload = (agreement: Agreement) => ({
    jobId: agreement.jobId,
    agreement,
    channelId: 1n,
    channelBase: 0n,
    spec: { command: process.execPath, args: ["-e", "1"], env: {}, outputs: [] },
    inputs: [],
  });
  /** Opens a job stream from the raw peer, sends what `send` writes, and returns the provider's answer. */
  async function answerTo(
    send: (stream: Stream, channel: ReturnType<typeof frameChannel>) => Promise<void> | void,
  ) {
    const stream = await raw.dial(provider.info.peerId, JOB_PROTOCOL);
    const channel = frameChannel(stream, MAX_JOB_FRAME_BYTES);
    await send(stream, channel);
    const frame = await channel.read(providerFrame, { signal: AbortSignal.timeout(20_000) });
    await channel.close();
    if (frame.type !== "error") throw new Error(`expected an error frame, got ${frame.type}`);
    expect(frame.message.length).toBeGreaterThan(0);
    return frame.code;
  }

  it("answers garbage, oversized, unknown-job and forged starts with an error frame naming the problem", async () => {
    expect(await answerTo((stream) => void stream.send(rawFrame("garbage {{{")))).toBe("bad-frame");
    expect(await answerTo((stream) => void stream.send(rawFrame('{"type":"hello"}')))).toBe("bad-frame");
    // A header announcing one byte more than the limit: refused before the body is read.
    expect(
      await answerTo((stream) => {
        stream.send(varint(MAX_JOB_FRAME_BYTES + 1));
        stream.send(new Uint8Array(1024));
      }),
    ).toBe("bad-frame");
    expect(
      await answerTo((_s, channel) =>
        channel.write({ type: "cancel", jobId: newId(), reason: "first frame" }),
      ),
    ).toBe("expected-start");

    const unknown = agreementFor(newId());
    const start = await signAsRaw("JobStart", startPayload(unknown));
    const frame = (env: Envelope) => ({
      type: "start",
      start: env,
      agreement: { provider: env, submitter: env },
    });
    expect(await answerTo((_s, channel) => channel.write(frame(start)))).toBe("no-agreement");
    const otherPeer = await signAsRaw("JobStart", startPayload(unknown), {
      peerId: payerHost.peerId.toString(),
    });
    expect(await answerTo((_s, channel) => channel.write(frame(otherPeer)))).toBe("peer-mismatch");
    expect(await answerTo((_s, channel) => channel.write(frame({ ...start, from: payer.address })))).toBe(
      "bad-signature",
    );
    const otherChain = await signAsRaw("JobStart", startPayload(unknown), {
      chainId: market.chain.chainId + 1,
    });
    expect(await answerTo((_s, channel) => channel.write(frame(otherChain)))).toBe("bad-signature");
  });

  it("refuses a start not signed by the agreement's submitter, which can still start its job", async () => {
    // A real agreement between the submitter and the provider, through the submitter's own code.
    const order: JobOrder = {
      orderId: newId(),
      submitter: payer.address,
      peerId: payerHost.peerId.toString(),
      addrs: payerHost.getMultiaddrs().map((a) => a.toString()),
      requirements,
      maxRates,
      bidWindowMs: 1_000,
      explain: false,
    };
    bids.open(order);
    const signedOrder = await signEnvelope(payer.submitter.account, {
      chainId: market.chain.chainId,
      kind: "JobOrder",
      peerId: order.peerId,
      expiresAt: nowS() + 60,
      payload: order,
    });
    await payerHost.services.pubsub.publish(ORDERS_TOPIC, new TextEncoder().encode(toJson(signedOrder)));
    await sleep(order.bidWindowMs);
    const { bids: received } = bids.close(order.orderId);
    const offer = received.find((b) => b.bid.provider === provider.address);
    if (offer === undefined) throw new Error("the provider did not bid");
    const jobId = newId();
    const accepted = await bids.accept(order, offer, jobId);
    if (accepted === undefined) throw new Error("the provider backed out");

    // The raw peer knows the job id and sends a start for it, signed with its own key.
    const forged = await signAsRaw("JobStart", { ...startPayload(accepted.agreement), jobId });
    const forgedFrame = { type: "start", start: forged, agreement: accepted.signatures };
    expect(await answerTo((_s, channel) => channel.write(forgedFrame))).toBe("not-submitter");

    // The forged start took nothing from the real submitter: its own start runs the job.
    const { submitter } = payer;
    const budget = GRID / 10n;
    const { channelId, base } = await ensureChannel(submitter.clients, submitter.store, {
      token: market.deployment.contracts.computeToken,
      escrow: market.deployment.contracts.computeEscrow,
      provider: provider.address,
      amount: budget,
      until: nowS() + requirements.maxDurationS + 3600,
      jobId,
    });
    insertSubmitterJob(submitter.store, {
      jobId,
      provider: provider.address,
      channelId,
      channelBase: base,
      agreement: JSON.stringify(accepted.signatures),
      spec: "{}",
      budget,
      createdAt: Date.now(),
    });
    try {
      const result = await runJobClient({
        host: payerHost,
        store: submitter.store,
        account: submitter.account,
        chainId: market.chain.chainId,
        agreement: accepted.agreement,
        signatures: accepted.signatures,
        providerAddrs: provider.info.multiaddrs,
        channelId,
        channelBase: base,
        budget,
        spec: { command: process.execPath, args: ["-e", burnScript(500)], env: {}, outputs: [] },
        inputs: [],
        outputDir: join(market.work, "out-forged-start"),
      });
      expect(result.status).toBe("completed");
    } finally {
      claimChannel(submitter.store, channelId, null);
    }
  });
});

describe("after all that", () => {
  it("the provider and the submitter still run a normal job to redemption", async () => {
    const result = await submitBurnJob(payer, { ms: 1_000, outputDir: join(market.work, "out-after") });
    expect(result.status).toBe("completed");
    expect(result.provider).toBe(provider.address);
    expect(result.redeemTx).not.toBeNull();
    expect((await market.channel(result.channelId)).redeemed).toBe(result.vouchers.at(-1)?.cumulativeAmount);
  });
});
