// The offer feed on real libp2p hosts: a "provider" host publishes offers on the offers topic, some
// valid and some forged; the client's feed lists only the valid ones of active providers.
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../../marketplace/log/createLogger.ts";
import { signEnvelope } from "../../../marketplace/messages/envelope.ts";
import type { CapacityOffer } from "../../../marketplace/messages/offer.ts";
import { createOfferFeed } from "../../../marketplace/offer/createOfferFeed.ts";
import { OfferBook } from "../../../marketplace/offer/offerBook.ts";
import { waitForOffers } from "../../../marketplace/offer/waitForOffers.ts";
import { OFFERS_TOPIC } from "../../../marketplace/p2p/constants.ts";
import { createHost, type GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import { waitFor } from "../../integration/support/waitFor.ts";
import { offer as baseOffer, PROVIDER_KEY, SUBMITTER_KEY } from "../messages/fixtures.ts";

const CHAIN_ID = 31337;
const provider = privateKeyToAccount(PROVIDER_KEY);
// A registered key of nobody: its offers are well signed but it is not an active provider.
const inactive = privateKeyToAccount(SUBMITTER_KEY);
const nowS = () => Math.floor(Date.now() / 1000);

let publisher: GridspotHost;
let client: GridspotHost;
const book = new OfferBook();
let feed: ReturnType<typeof createOfferFeed>;

beforeAll(async () => {
  publisher = await createHost({
    privateKey: await generateKeyPair("Ed25519"),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    localNetwork: true,
  });
  client = await createHost({
    privateKey: await generateKeyPair("Ed25519"),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrap: publisher.getMultiaddrs().map((a) => a.toString()),
    localNetwork: true,
  });
  feed = createOfferFeed({
    host: client,
    chainId: CHAIN_ID,
    book,
    logger: createLogger("test", () => {}),
    isActiveProvider: async (address: Address) => address === provider.address,
  });
  feed.start();
  await waitFor("the client's subscription at the publisher", () =>
    publisher.services.pubsub.getSubscribers(OFFERS_TOPIC).some((p) => p.equals(client.peerId))
      ? true
      : undefined,
  );
});
afterAll(async () => {
  feed?.stop();
  await client?.stop();
  await publisher?.stop();
});

async function publish(offer: CapacityOffer, o: { account?: typeof provider; expiresAt?: number } = {}) {
  const env = await signEnvelope(o.account ?? provider, {
    chainId: CHAIN_ID,
    kind: "CapacityOffer",
    peerId: publisher.peerId.toString(),
    expiresAt: o.expiresAt ?? nowS() + 90,
    payload: offer,
  });
  await publisher.services.pubsub.publish(OFFERS_TOPIC, new TextEncoder().encode(JSON.stringify(env)));
}

describe("createOfferFeed", () => {
  it("lists valid offers of active providers and nothing forged, stale or from inactive ones", async () => {
    const mine = { ...baseOffer, peerId: publisher.peerId.toString(), seq: 10 };
    // Forged: the envelope's key is not the provider the offer names.
    await publish({ ...mine, seq: 99 }, { account: inactive });
    // Well signed, but by a key that is not an active provider.
    await publish({ ...mine, provider: inactive.address, seq: 11 }, { account: inactive });
    await publish(mine);
    const listed = await waitFor("the valid offer in the book", () =>
      book.size > 0 ? book.offers() : undefined,
    );
    expect(listed.map((e) => [e.offer.provider, e.offer.seq])).toEqual([[provider.address, 10]]);

    // An older seq and an expired envelope change nothing; a newer offer replaces the held one.
    await publish({ ...mine, seq: 9 });
    await publish({ ...mine, seq: 12 }, { expiresAt: nowS() - 1 });
    await publish({ ...mine, seq: 13, freeCpuCores: 3 });
    const newer = await waitFor("the newer offer", () =>
      book.seqOf(provider.address) === 13 ? book.offers() : undefined,
    );
    expect(newer).toHaveLength(1);
    expect(newer[0]?.offer.freeCpuCores).toBe(3);
  });

  it("tells when offers stop arriving", async () => {
    const started = Date.now();
    const waited = await waitForOffers(book, { maxMs: 5_000, quietMs: 300 });
    expect(waited).toBeLessThan(5_000);
    expect(Date.now() - (book.lastAddedAt ?? 0)).toBeGreaterThanOrEqual(300);
    // An empty book waits the whole bound.
    const empty = await waitForOffers(new OfferBook(), { maxMs: 200 });
    expect(empty).toBeGreaterThanOrEqual(200);
    expect(Date.now() - started).toBeLessThan(6_000);
  });
});
