import { openEnvelope } from "../messages/envelope.ts";
import { type CapacityOffer, capacityOffer } from "../messages/offer.ts";
import { MAX_GOSSIP_MESSAGE_BYTES } from "../p2p/constants.ts";

/** What a gossip validator does with an offer: Accept (and list it), Ignore, or Reject (the sender's score drops). */
export type OfferVerdict =
  | { result: "accept"; offer: CapacityOffer; expiresAt: number }
  | { result: "ignore" | "reject"; reason: string };

export type ValidateOfferContext = {
  chainId: number;
  /** The seq held for a provider (see OfferBook.seqOf): a gossiped offer must be newer. */
  seqOf: (provider: string) => number | undefined;
  /** Unix seconds; the wall clock by default. */
  now?: number;
};

/** A gossip message on the offers topic, as gossipsub hands it to a validator. */
export type OfferMessage = { data: Uint8Array };

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Checks one gossiped CapacityOffer. Reject: oversized message, not JSON, not an envelope of a
 * CapacityOffer, bad signature, a `provider` that did not sign it, an offer naming another peer id
 * than its envelope (see openEnvelope). Ignore: expired, or not newer than the offer held (a duplicate or a
 * replay). Accept: everything else, with the envelope's expiry.
 */
export async function validateOffer(
  context: ValidateOfferContext,
  message: OfferMessage,
): Promise<OfferVerdict> {
  if (message.data.byteLength > MAX_GOSSIP_MESSAGE_BYTES)
    return { result: "reject", reason: `larger than ${MAX_GOSSIP_MESSAGE_BYTES} bytes` };
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(message.data));
  } catch {
    return { result: "reject", reason: "not JSON" };
  }
  const opened = await openEnvelope(raw, {
    chainId: context.chainId,
    kind: "CapacityOffer",
    schema: capacityOffer,
    signerField: "provider",
    ...(context.now === undefined ? {} : { now: context.now }),
  });
  if (!opened.ok)
    return {
      result: opened.reason === "stale" ? "ignore" : "reject",
      reason: `${opened.reason}: ${opened.detail}`,
    };
  const offer = opened.value;
  const held = context.seqOf(offer.provider);
  if (held !== undefined && offer.seq <= held)
    return { result: "ignore", reason: `seq ${offer.seq} is not newer than ${held}` };
  return { result: "accept", offer, expiresAt: opened.envelope.expiresAt };
}
