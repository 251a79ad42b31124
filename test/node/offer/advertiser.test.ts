import { generateKeyPair } from "@libp2p/crypto/keys";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../../marketplace/log/createLogger.ts";
import { openEnvelope, signEnvelope } from "../../../marketplace/messages/envelope.ts";
import { capacityOffer } from "../../../marketplace/messages/offer.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import { createOfferFeed } from "../../../marketplace/offer/createOfferFeed.ts";
import { OfferBook } from "../../../marketplace/offer/offerBook.ts";
import { createHost, type GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import { Capacity } from "../../../node/bid/capacity.ts";
import { type AdvertiserComponents, buildOffer, createAdvertiser } from "../../../node/offer/advertiser.ts";
import { priceListToRates } from "../../../node/pricing/rates.ts";
import { waitFor } from "../../integration/support/waitFor.ts";
import { PROVIDER_KEY } from "../../marketplace/messages/fixtures.ts";

const H100 = "nvidia-h100-80gb";
const A100 = "nvidia-a100-40gb";
const GRID = 10n ** 18n;
const account = privateKeyToAccount(PROVIDER_KEY);
const rates = priceListToRates({
  gpuHour: { [H100]: 3n * GRID, [A100]: GRID },
  cpuCoreHour: 1n,
  memGiBHour: 1n,
});

let host: GridspotHost;
beforeAll(async () => {
  host = await createHost({ privateKey: await generateKeyPair("Ed25519"), listen: ["/ip4/127.0.0.1/tcp/0"] });
});
afterAll(async () => {
  await host?.stop();
});

function setup() {
  let now = 1_000_000;
  const capacity = new Capacity(
    {
      gpus: [
        { index: 0, class: H100, vramMiB: 81_559 },
        { index: 1, class: H100, vramMiB: 81_559 },
        { index: 2, class: A100, vramMiB: 40_960 },
      ],
      cpuCores: 32,
      memMiB: 131_072,
      maxDurationS: 86_400,
    },
    { now: () => now },
  );
  const components: AdvertiserComponents = {
    host,
    account,
    chainId: 31337,
    capacity,
    logger: createLogger("test", () => {}),
    rates: () => rates,
    addrs: () => ["/ip4/127.0.0.1/tcp/4001"],
  };
  return {
    capacity,
    components,
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const freeOf = (offer: ReturnType<typeof buildOffer>) =>
  Object.fromEntries(offer.resources.map((r) => [r.class, r.free]));

describe("buildOffer", () => {
  it("describes the whole node as free when nothing is held", () => {
    const { components } = setup();
    const offer = buildOffer(components, 42);
    expect(offer).toEqual({
      provider: account.address,
      peerId: host.peerId.toString(),
      addrs: ["/ip4/127.0.0.1/tcp/4001"],
      resources: [
        { class: H100, count: 2, free: 2, vramMiB: 81_559 },
        { class: A100, count: 1, free: 1, vramMiB: 40_960 },
      ],
      cpuCores: 32,
      freeCpuCores: 32,
      memMiB: 131_072,
      freeMemMiB: 131_072,
      rates,
      maxDurationS: 86_400,
      seq: 42,
    });
    expect(capacityOffer.parse(offer)).toEqual(offer);
  });

  it("states the endpoint prices and tolerance of a node that serves endpoints, and nothing of one that does not", () => {
    const { components } = setup();
    const endpoints = {
      rates: [
        { meter: "requests" as const, price: GRID / 100n, per: 1000n },
        { meter: "tokens" as const, price: GRID / 1000n, per: 1000n },
      ],
      meterToleranceMs: 2_000,
    };
    const serving = buildOffer({ ...components, endpoints: () => endpoints }, 1);
    expect(serving.endpoints).toEqual(endpoints);
    expect(capacityOffer.parse(serving)).toEqual(serving);
    expect(buildOffer({ ...components, endpoints: () => undefined }, 2)).not.toHaveProperty("endpoints");
  });

  it("follows holds: free counts drop on reserve and come back on release and on hold expiry", () => {
    const { capacity, components, now, advance } = setup();
    const job = { gpus: 2, gpuClass: H100, cpuCores: 8, memMiB: 16_384, maxDurationS: 60 };
    capacity.reserve("job-a", job, now() + 5_000);
    capacity.reserve("job-b", { ...job, gpus: 1, gpuClass: A100 }, now() + 60_000);
    let offer = buildOffer(components, 1);
    expect(freeOf(offer)).toEqual({ [H100]: 0, [A100]: 0 });
    expect(offer.resources.map((r) => r.count)).toEqual([2, 1]);
    expect([offer.freeCpuCores, offer.freeMemMiB]).toEqual([16, 131_072 - 2 * 16_384]);

    advance(5_000);
    offer = buildOffer(components, 2);
    expect(freeOf(offer)).toEqual({ [H100]: 2, [A100]: 0 });
    expect(offer.freeCpuCores).toBe(24);

    capacity.release("job-b");
    offer = buildOffer(components, 3);
    expect(freeOf(offer)).toEqual({ [H100]: 2, [A100]: 1 });
    expect([offer.freeCpuCores, offer.freeMemMiB]).toEqual([32, 131_072]);
  });

  it("keeps a running job's GPUs out of the free count after its hold time", () => {
    const { capacity, components, now, advance } = setup();
    capacity.reserve(
      "job-a",
      { gpus: 1, gpuClass: A100, cpuCores: 1, memMiB: 1, maxDurationS: 60 },
      now() + 1_000,
    );
    capacity.markRunning("job-a");
    advance(10_000);
    expect(freeOf(buildOffer(components, 1))).toEqual({ [H100]: 2, [A100]: 0 });
  });

  it("signs into an envelope that opens as a CapacityOffer from this provider and peer", async () => {
    const { components } = setup();
    const offer = buildOffer(components, 7);
    const env = await signEnvelope(account, {
      chainId: 31337,
      kind: "CapacityOffer",
      peerId: offer.peerId,
      expiresAt: 2_000_000_000,
      payload: offer,
    });
    const opened = await openEnvelope(JSON.parse(JSON.stringify(env)), {
      chainId: 31337,
      kind: "CapacityOffer",
      schema: capacityOffer,
      peerId: host.peerId.toString(),
      signerField: "provider",
      now: 1_900_000_000,
    });
    expect(opened.ok && opened.value).toEqual(offer);
  });
});

describe("createAdvertiser", () => {
  it("publishes to a peer that joins the offers topic at once, and again when capacity or prices change", async () => {
    const { capacity, components, now } = setup();
    let current: Rate[] = rates;
    const advertiser = createAdvertiser(
      { ...components, rates: () => current },
      // An hour between periodic offers: anything the listener sees within the test came from a join or a change.
      { intervalMs: 3_600_000, republishOnJoinMs: 100 },
    );
    advertiser.start();
    const listener = await createHost({
      privateKey: await generateKeyPair("Ed25519"),
      listen: ["/ip4/127.0.0.1/tcp/0"],
      bootstrap: host.getMultiaddrs().map((a) => a.toString()),
    });
    const book = new OfferBook();
    const feed = createOfferFeed({
      host: listener,
      chainId: 31337,
      book,
      logger: createLogger("test", () => {}),
      isActiveProvider: async () => true,
    });
    try {
      // The first publish went out before the listener existed; joining brings one.
      await new Promise((r) => setTimeout(r, 300));
      feed.start();
      const first = await waitFor("an offer after joining", () => book.offers()[0]?.offer, {
        timeoutMs: 5_000,
      });
      expect(first.provider).toBe(account.address);
      expect(first.resources.map((r) => r.free)).toEqual([2, 1]);

      capacity.reserve(
        "job-a",
        { gpus: 1, gpuClass: H100, cpuCores: 1, memMiB: 1, maxDurationS: 60 },
        now() + 60_000,
      );
      advertiser.changed();
      const held = await waitFor("the offer after a hold", () => {
        const o = book.offers()[0]?.offer;
        return o !== undefined && o.seq > first.seq ? o : undefined;
      });
      expect(held.resources.map((r) => r.free)).toEqual([1, 1]);

      current = rates.map((r) => (r.gpuClass === H100 ? { ...r, price: 4n * GRID } : r));
      advertiser.changed();
      const repriced = await waitFor("the offer after a price move", () => {
        const o = book.offers()[0]?.offer;
        return o !== undefined && o.seq > held.seq ? o : undefined;
      });
      expect(repriced.rates.find((r) => r.gpuClass === H100)?.price).toBe(4n * GRID);
    } finally {
      advertiser.stop();
      feed.stop();
      await listener.stop();
    }
  });
});
