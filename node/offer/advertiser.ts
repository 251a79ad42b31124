import type { LocalAccount } from "viem";
import type { Logger } from "../../marketplace/log/createLogger.ts";
import { signEnvelope } from "../../marketplace/messages/envelope.ts";
import type { CapacityOffer } from "../../marketplace/messages/offer.ts";
import type { Granularity, Rate } from "../../marketplace/messages/primitives.ts";
import { OFFER_INTERVAL_MS, OFFER_TTL_S, OFFERS_TOPIC } from "../../marketplace/p2p/constants.ts";
import type { GridspotHost } from "../../marketplace/p2p/createHost.ts";
import type { Capacity } from "../bid/capacity.ts";

export type AdvertiserComponents = {
  host: GridspotHost;
  account: LocalAccount;
  chainId: number;
  capacity: Capacity;
  logger: Logger;
  rates: () => Rate[];
  /** Addresses others may dial us on (defaults to the host's own). */
  addrs: () => string[];
  /** How jobs are billed (the bids' granularity and minimum charge), shown in the offer. */
  billing?: (() => { granularity: Granularity; minimumCharge?: bigint | undefined }) | undefined;
  /** Whether and at what prices the node serves endpoints, shown in the offer; absent: it serves none. */
  endpoints?: (() => CapacityOffer["endpoints"]) | undefined;
};

/** Builds this node's CapacityOffer from its capacity and current rates. */
export function buildOffer(components: AdvertiserComponents, seq: number): CapacityOffer {
  const { capacity, account, host } = components;
  const free = capacity.free();
  const classes = new Map<string, { count: number; vramMiB: number }>();
  for (const gpu of capacity.totals.gpus) {
    const c = classes.get(gpu.class) ?? { count: 0, vramMiB: gpu.vramMiB };
    c.count += 1;
    classes.set(gpu.class, c);
  }
  return {
    provider: account.address,
    peerId: host.peerId.toString(),
    addrs: components.addrs(),
    resources: [...classes].map(([cls, c]) => ({
      class: cls,
      count: c.count,
      free: free.gpusByClass.get(cls)?.length ?? 0,
      vramMiB: c.vramMiB,
    })),
    cpuCores: capacity.totals.cpuCores,
    freeCpuCores: Math.max(0, free.cpuCores),
    memMiB: capacity.totals.memMiB,
    freeMemMiB: Math.max(0, free.memMiB),
    rates: components.rates(),
    ...billingOf(components),
    maxDurationS: capacity.totals.maxDurationS,
    seq,
    ...endpointsOf(components),
  };
}

function endpointsOf(components: AdvertiserComponents): Pick<CapacityOffer, "endpoints"> {
  const endpoints = components.endpoints?.();
  return endpoints === undefined ? {} : { endpoints };
}

function billingOf(components: AdvertiserComponents): Pick<CapacityOffer, "granularity" | "minimumCharge"> {
  const billing = components.billing?.();
  if (billing === undefined) return {};
  const { granularity, minimumCharge } = billing;
  return minimumCharge === undefined || minimumCharge === 0n
    ? { granularity }
    : { granularity, minimumCharge };
}

/**
 * After a peer joins the offers topic, publish again once joins have been quiet this long: gossip
 * has no history, so a newcomer would otherwise see our offer only at the next interval. The wait
 * lets our outbound stream to the new peer open (gossipsub drops what it cannot send yet); a second
 * round later covers a peer slow to open one. Joins close together share one publish per round.
 */
export const REPUBLISH_ON_JOIN_MS = 250;
export const REPUBLISH_ON_JOIN_AGAIN_MS = 2_000;
/** A stream of joins delays a round at most this many times its delay. */
const JOIN_ROUND_CAP = 4;

type SubscriptionChange = CustomEvent<{ subscriptions: { topic: string; subscribe: boolean }[] }>;

/**
 * Publishes a signed CapacityOffer on the offers topic every 30 s, whenever capacity or prices
 * change, and shortly after a peer subscribes to the topic.
 */
export function createAdvertiser(
  components: AdvertiserComponents,
  init: { intervalMs?: number; republishOnJoinMs?: number } = {},
) {
  let timer: NodeJS.Timeout | undefined;
  let publishing = false;
  let again = false;
  let lastSeq = 0;

  async function publish(): Promise<void> {
    // seq only grows, also across restarts (it is a millisecond timestamp), so receivers keep the newest.
    const seq = Math.max(Date.now(), lastSeq + 1);
    lastSeq = seq;
    const offer = buildOffer(components, seq);
    const signed = await signEnvelope(components.account, {
      chainId: components.chainId,
      kind: "CapacityOffer",
      peerId: offer.peerId,
      expiresAt: Math.floor(Date.now() / 1000) + OFFER_TTL_S,
      payload: offer,
    });
    await components.host.services.pubsub.publish(
      OFFERS_TOPIC,
      new TextEncoder().encode(JSON.stringify(signed)),
    );
    components.logger.debug("offer published", { seq });
  }

  // One publish at a time; a change during a publish is published right after it.
  const publishSoon = () => {
    if (publishing) {
      again = true;
      return;
    }
    publishing = true;
    void publish()
      .catch((error: Error) => components.logger.warn("offer publish failed", { error: error.message }))
      .finally(() => {
        publishing = false;
        if (again) {
          again = false;
          publishSoon();
        }
      });
  };

  const firstDelay = init.republishOnJoinMs ?? REPUBLISH_ON_JOIN_MS;
  const rounds = [
    afterQuiet(publishSoon, firstDelay),
    afterQuiet(publishSoon, Math.max(firstDelay, REPUBLISH_ON_JOIN_AGAIN_MS)),
  ];
  const onSubscriptionChange = (event: SubscriptionChange) => {
    if (!event.detail.subscriptions.some((s) => s.topic === OFFERS_TOPIC && s.subscribe)) return;
    for (const round of rounds) round.poke();
  };

  return {
    start() {
      components.host.services.pubsub.addEventListener("subscription-change", onSubscriptionChange);
      publishSoon();
      timer = setInterval(publishSoon, init.intervalMs ?? OFFER_INTERVAL_MS);
      timer.unref();
    },
    stop() {
      components.host.services.pubsub.removeEventListener("subscription-change", onSubscriptionChange);
      if (timer !== undefined) clearInterval(timer);
      for (const round of rounds) round.cancel();
    },
    /** Capacity or prices changed: tell the market now. */
    changed: publishSoon,
  };
}

/**
 * Calls `fn` once pokes have been quiet for `delayMs` (at the latest JOIN_ROUND_CAP × delayMs after
 * the first poke of a round, so a stream of pokes cannot starve it).
 */
function afterQuiet(fn: () => void, delayMs: number) {
  let timer: NodeJS.Timeout | undefined;
  let lastPoke = 0;
  let firstPoke = 0;
  const arm = (ms: number) => {
    timer = setTimeout(fire, ms);
    timer.unref();
  };
  const fire = () => {
    timer = undefined;
    const now = Date.now();
    const quietFor = now - lastPoke;
    if (quietFor < delayMs && now - firstPoke < JOIN_ROUND_CAP * delayMs) return arm(delayMs - quietFor);
    fn();
    // Poked too recently to have been served by this publish: one more round.
    if (quietFor < delayMs) {
      firstPoke = now;
      arm(delayMs);
    }
  };
  return {
    poke() {
      lastPoke = Date.now();
      if (timer !== undefined) return;
      firstPoke = lastPoke;
      arm(delayMs);
    },
    cancel() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}
