// Peer scoring on the market topics, with real hosts on 127.0.0.1: a peer that floods badly signed
// offers and orders is graylisted by the honest peers (its score falls below the threshold and even
// its valid messages are no longer processed), while the honest peers go on exchanging offers.
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Message } from "@libp2p/gossipsub";
import type { LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Envelope, signEnvelope } from "../../../marketplace/messages/envelope.ts";
import { toJson } from "../../../marketplace/messages/json.ts";
import { type CapacityOffer, capacityOffer } from "../../../marketplace/messages/offer.ts";
import { type JobOrder, jobOrder } from "../../../marketplace/messages/order.ts";
import { MAX_GOSSIP_MESSAGE_BYTES, OFFERS_TOPIC, ORDERS_TOPIC } from "../../../marketplace/p2p/constants.ts";
import { createHost, type GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import { envelopeTopicValidator } from "../../../marketplace/p2p/envelopeTopicValidator.ts";
import { MARKET_SCORE_THRESHOLDS } from "../../../marketplace/p2p/gossipScoring.ts";

const CHAIN_ID = 31_337;
const HOUR_MS = 3_600_000n;
const nowS = () => Math.floor(Date.now() / 1000);

type Peer = {
  host: GridspotHost;
  account: LocalAccount;
  /** Providers whose offers, and order ids whose orders, this peer's application received. */
  offersFrom: string[];
  orders: string[];
  /** Sizes of the messages delivered on the offers topic, whatever they held. */
  offerSizes: number[];
};

let alice: Peer;
let bob: Peer;
let mallory: Peer;

/** gossipsub's score of `peer` as `host` sees it (not on the public interface, on the service). */
const scoreOf = (host: GridspotHost, peer: GridspotHost): number =>
  (host.services.pubsub as unknown as { getScore(id: string): number }).getScore(peer.peerId.toString());

async function startPeer(bootstrap: GridspotHost[], validate: boolean): Promise<Peer> {
  const host = await createHost({
    privateKey: await generateKeyPair("Ed25519"),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrap: bootstrap.map((b) => b.getMultiaddrs()[0]?.toString() ?? ""),
    localNetwork: true,
  });
  const peer: Peer = {
    host,
    account: privateKeyToAccount(generatePrivateKey()),
    offersFrom: [],
    orders: [],
    offerSizes: [],
  };
  const pubsub = host.services.pubsub;
  if (validate) {
    pubsub.topicValidators.set(
      OFFERS_TOPIC,
      envelopeTopicValidator({
        chainId: CHAIN_ID,
        kind: "CapacityOffer",
        schema: capacityOffer,
        signerField: "provider",
      }),
    );
    pubsub.topicValidators.set(
      ORDERS_TOPIC,
      envelopeTopicValidator({
        chainId: CHAIN_ID,
        kind: "JobOrder",
        schema: jobOrder,
        signerField: "submitter",
      }),
    );
  }
  pubsub.addEventListener("message", (event: CustomEvent<Message>) => {
    if (event.detail.topic === OFFERS_TOPIC) peer.offerSizes.push(event.detail.data.byteLength);
    let payload: { provider?: string; orderId?: string };
    try {
      const env = JSON.parse(new TextDecoder().decode(event.detail.data)) as Envelope;
      payload = JSON.parse(env.payload) as typeof payload;
    } catch {
      return; // Not an envelope: only a peer without validators lets it through.
    }
    if (event.detail.topic === OFFERS_TOPIC) peer.offersFrom.push(String(payload.provider));
    else peer.orders.push(String(payload.orderId));
  });
  pubsub.subscribe(OFFERS_TOPIC);
  pubsub.subscribe(ORDERS_TOPIC);
  return peer;
}

function offer(peer: Peer, seq: number): CapacityOffer {
  return {
    provider: peer.account.address,
    peerId: peer.host.peerId.toString(),
    addrs: [],
    resources: [{ class: "nvidia-a100-40gb", count: 1, free: 1, vramMiB: 40_960 }],
    cpuCores: 8,
    freeCpuCores: 8,
    memMiB: 32_768,
    freeMemMiB: 32_768,
    rates: [{ meter: "gpu_ms", price: 10n ** 18n, per: HOUR_MS, gpuClass: "nvidia-a100-40gb" }],
    maxDurationS: 3_600,
    seq,
  };
}

function order(peer: Peer, orderId: string): JobOrder {
  return {
    orderId,
    submitter: peer.account.address,
    peerId: peer.host.peerId.toString(),
    addrs: [],
    requirements: { gpus: 1, cpuCores: 1, memMiB: 1024, maxDurationS: 60 },
    maxRates: [],
    bidWindowMs: 1_000,
    explain: false,
  };
}

async function publishSigned(peer: Peer, topic: string, payload: CapacityOffer | JobOrder, tamper = false) {
  const env = await signEnvelope(peer.account, {
    chainId: CHAIN_ID,
    kind: topic === OFFERS_TOPIC ? "CapacityOffer" : "JobOrder",
    peerId: peer.host.peerId.toString(),
    expiresAt: nowS() + 60,
    payload,
  });
  // Changing the signed payload afterwards leaves a well-formed envelope with a bad signature.
  if (tamper) env.payload = env.payload.replace('"maxDurationS":', '"maxDurationS":1');
  await peer.host.services.pubsub.publish(topic, new TextEncoder().encode(toJson(env)));
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const subscribed = (host: GridspotHost, peers: GridspotHost[]) =>
  [OFFERS_TOPIC, ORDERS_TOPIC].every((topic) => {
    const subscribers = host.services.pubsub.getSubscribers(topic).map(String);
    return peers.every((p) => subscribers.includes(p.peerId.toString()));
  })
    ? true
    : undefined;

beforeAll(async () => {
  alice = await startPeer([], true);
  bob = await startPeer([alice.host], true);
  // Mallory runs no validators: whatever it publishes goes out.
  mallory = await startPeer([alice.host, bob.host], false);
  await until("the peers' subscriptions", () =>
    subscribed(mallory.host, [alice.host, bob.host]) &&
    subscribed(alice.host, [bob.host, mallory.host]) &&
    subscribed(bob.host, [alice.host, mallory.host])
      ? true
      : undefined,
  );
});

afterAll(async () => {
  await Promise.allSettled([alice, bob, mallory].map((p) => p?.host.stop()));
});

describe("gossipsub peer scoring on the market topics", () => {
  it("graylists a peer that floods badly signed offers and orders, and keeps honest peers talking", async () => {
    // Before: Mallory is a peer like any other, its valid offer is delivered.
    await publishSigned(mallory, OFFERS_TOPIC, offer(mallory, 1));
    await until("Mallory's first offer at Alice and Bob", () =>
      alice.offersFrom.includes(mallory.account.address) && bob.offersFrom.includes(mallory.account.address)
        ? true
        : undefined,
    );
    expect(scoreOf(alice.host, mallory.host)).toBeGreaterThanOrEqual(0);

    // The flood: 40 badly signed messages, offers and orders in turn.
    for (let i = 0; i < 40; i++) {
      if (i % 2 === 0) await publishSigned(mallory, OFFERS_TOPIC, offer(mallory, 100 + i), true);
      else await publishSigned(mallory, ORDERS_TOPIC, order(mallory, `flood-order-${i}`), true);
    }
    const graylist = MARKET_SCORE_THRESHOLDS.graylistThreshold;
    await until("Mallory below the graylist threshold at Alice and Bob", () =>
      scoreOf(alice.host, mallory.host) < graylist && scoreOf(bob.host, mallory.host) < graylist
        ? true
        : undefined,
    );
    // None of the forged messages reached the application.
    expect(alice.orders.filter((id) => id.startsWith("flood-"))).toEqual([]);
    expect(alice.offersFrom.filter((p) => p === mallory.account.address)).toHaveLength(1);

    // After: Mallory's valid offer and order are not processed any more, while Bob's offer (sent
    // after them) reaches Alice and Alice's reaches Bob.
    const offersBefore = { alice: alice.offersFrom.length, bob: bob.offersFrom.length };
    await publishSigned(mallory, OFFERS_TOPIC, offer(mallory, 1_000));
    await publishSigned(mallory, ORDERS_TOPIC, order(mallory, "mallory-valid-order"));
    await publishSigned(bob, OFFERS_TOPIC, offer(bob, 1));
    await publishSigned(alice, OFFERS_TOPIC, offer(alice, 1));
    await until("Alice and Bob exchanging offers", () =>
      alice.offersFrom.includes(bob.account.address) && bob.offersFrom.includes(alice.account.address)
        ? true
        : undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(alice.offersFrom.slice(offersBefore.alice)).toEqual([bob.account.address]);
    expect(bob.offersFrom.slice(offersBefore.bob)).toEqual([alice.account.address]);
    expect([...alice.orders, ...bob.orders]).not.toContain("mallory-valid-order");
    // Honest peers keep a good score with each other.
    expect(scoreOf(alice.host, bob.host)).toBeGreaterThanOrEqual(0);
    expect(scoreOf(bob.host, alice.host)).toBeGreaterThanOrEqual(0);
  });

  it("takes peer exchange only from its configured bootstrap peers", () => {
    // Bob was told of Alice: her app-specific score lifts her to the peer-exchange threshold.
    const { acceptPXThreshold } = MARKET_SCORE_THRESHOLDS;
    expect(scoreOf(bob.host, alice.host)).toBeGreaterThanOrEqual(acceptPXThreshold);
    // Alice dialled nobody: Bob's topic scores alone are capped below it.
    expect(scoreOf(alice.host, bob.host)).toBeLessThan(acceptPXThreshold);
  });

  it("rejects a gossip message over the size limit, even where no validator looks at it", async () => {
    // Two fresh peers without validators: only the size limit stands between them.
    const carol = await startPeer([], false);
    const dave = await startPeer([carol.host], false);
    try {
      await until("Carol and Dave's subscriptions", () =>
        subscribed(carol.host, [dave.host]) && subscribed(dave.host, [carol.host]) ? true : undefined,
      );
      const publish = (bytes: number) =>
        carol.host.services.pubsub.publish(OFFERS_TOPIC, new Uint8Array(bytes).fill(0x61));
      await publish(MAX_GOSSIP_MESSAGE_BYTES);
      await until("the message at the limit", () =>
        dave.offerSizes.includes(MAX_GOSSIP_MESSAGE_BYTES) ? true : undefined,
      );
      const before = scoreOf(dave.host, carol.host);
      // Not delivered, and each counted against the sender as an invalid message: five cost 25.
      for (let i = 1; i <= 5; i++) await publish(MAX_GOSSIP_MESSAGE_BYTES + i);
      await until("Carol's score to drop at Dave", () =>
        scoreOf(dave.host, carol.host) < before - 20 ? true : undefined,
      );
      await publish(100);
      await until("a small message after it", () => (dave.offerSizes.includes(100) ? true : undefined));
      expect(dave.offerSizes).toEqual([MAX_GOSSIP_MESSAGE_BYTES, 100]);
    } finally {
      await Promise.allSettled([carol.host.stop(), dave.host.stop()]);
    }
  });
});
