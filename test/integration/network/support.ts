// Helpers for the network tests: many real libp2p hosts on 127.0.0.1, and signed CapacityOffers
// from throwaway keys, validated the way nodes validate them.
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Message, TopicValidatorFn, TopicValidatorResult } from "@libp2p/gossipsub";
import type { LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { signEnvelope } from "../../../marketplace/messages/envelope.ts";
import { toJson } from "../../../marketplace/messages/json.ts";
import { type CapacityOffer, capacityOffer } from "../../../marketplace/messages/offer.ts";
import { OFFERS_TOPIC } from "../../../marketplace/p2p/constants.ts";
import {
  type CreateHostParameters,
  createHost,
  type GridspotHost,
} from "../../../marketplace/p2p/createHost.ts";
import { envelopeTopicValidator } from "../../../marketplace/p2p/envelopeTopicValidator.ts";

export const CHAIN_ID = 31_337;
const HOUR_MS = 3_600_000n;

export const newAccount = (): LocalAccount => privateKeyToAccount(generatePrivateKey());

export function addrOf(host: GridspotHost): string {
  const addr = host.getMultiaddrs()[0];
  if (addr === undefined) throw new Error("host has no listen address");
  return addr.toString();
}

/** A host on 127.0.0.1 with an ephemeral port, as the market creates it for local networks. */
export async function startHost(
  bootstrap: string[] = [],
  extra: Partial<Omit<CreateHostParameters, "privateKey" | "listen" | "bootstrap">> = {},
): Promise<GridspotHost> {
  return createHost({
    privateKey: await generateKeyPair("Ed25519"),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrap,
    localNetwork: true,
    ...extra,
  });
}

const offerValidator = envelopeTopicValidator({
  chainId: CHAIN_ID,
  kind: "CapacityOffer",
  schema: capacityOffer,
  signerField: "provider",
});

/**
 * Every host validates every offer it receives with the node's validator, but the hosts share this
 * process's CPU: on separate machines they would check the same message in parallel, here one
 * ECDSA recovery (about a millisecond) for each of 50 hosts would stall them all. So the verdict on
 * given message bytes is computed once and shared.
 */
const verdicts = new Map<string, Promise<TopicValidatorResult>>();
const sharedOfferValidator: TopicValidatorFn = (source, message) => {
  const key = Buffer.from(message.data).toString("base64");
  let verdict = verdicts.get(key);
  if (verdict === undefined) {
    if (verdicts.size > 10_000) verdicts.clear();
    verdict = Promise.resolve(offerValidator(source, message));
    verdicts.set(key, verdict);
  }
  return verdict;
};

/** Validates offers like a node does (signature, schema, peer binding) and subscribes to them. */
export function listenForOffers(
  host: GridspotHost,
  onOffer: (offer: CapacityOffer, message: Message) => void,
) {
  const pubsub = host.services.pubsub;
  pubsub.topicValidators.set(OFFERS_TOPIC, sharedOfferValidator);
  pubsub.addEventListener("message", (event) => {
    if (event.detail.topic !== OFFERS_TOPIC) return;
    // Only validated messages are delivered: the payload is a well-formed, signed offer.
    const envelope = JSON.parse(new TextDecoder().decode(event.detail.data)) as { payload: string };
    onOffer(capacityOffer.parse(JSON.parse(envelope.payload)), event.detail);
  });
  pubsub.subscribe(OFFERS_TOPIC);
}

export function offerOf(account: LocalAccount, host: GridspotHost, seq: number): CapacityOffer {
  return {
    provider: account.address,
    peerId: host.peerId.toString(),
    addrs: [addrOf(host)],
    resources: [{ class: "nvidia-h100-80gb", count: 8, free: 8, vramMiB: 81_920 }],
    cpuCores: 64,
    freeCpuCores: 64,
    memMiB: 512 * 1024,
    freeMemMiB: 512 * 1024,
    rates: [
      { meter: "gpu_ms", price: 2_000_000_000_000_000_000n, per: HOUR_MS, gpuClass: "nvidia-h100-80gb" },
    ],
    maxDurationS: 86_400,
    seq,
  };
}

/** The bytes a provider publishes: its offer in a signed envelope. */
export async function signedOfferBytes(
  account: LocalAccount,
  host: GridspotHost,
  offer: CapacityOffer,
  options: { expiresAt?: number } = {},
): Promise<Uint8Array> {
  const envelope = await signEnvelope(account, {
    chainId: CHAIN_ID,
    kind: "CapacityOffer",
    peerId: host.peerId.toString(),
    expiresAt: options.expiresAt ?? Math.floor(Date.now() / 1000) + 90,
    payload: offer,
  });
  return new TextEncoder().encode(toJson(envelope));
}

/** Stops every host, each at most `timeoutMs`, all at once. */
export async function stopAll(hosts: GridspotHost[], timeoutMs = 10_000): Promise<void> {
  await Promise.allSettled(
    hosts.map((h) =>
      Promise.race([h.stop(), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]),
    ),
  );
}
