import type { Message } from "@libp2p/gossipsub";
import { TopicValidatorResult } from "@libp2p/gossipsub";
import type { Address } from "viem";
import type { Logger } from "../log/createLogger.ts";
import { OFFERS_TOPIC } from "../p2p/constants.ts";
import type { GridspotHost } from "../p2p/createHost.ts";
import type { OfferBook } from "./offerBook.ts";
import { validateOffer } from "./validateOffer.ts";

export type OfferFeedComponents = {
  host: GridspotHost;
  chainId: number;
  book: OfferBook;
  logger: Logger;
  /** Only registered, staked providers are listed (ProviderRegistry.isActive, cached). */
  isActiveProvider: (provider: Address) => Promise<boolean>;
};

/**
 * Keeps an OfferBook filled from `/gridspot/offers/1`: a topic validator checks each offer (see
 * validateOffer: Reject lowers the sender's peer score, Ignore drops duplicates and stale offers) and
 * lists the accepted ones whose provider is active on-chain.
 */
export function createOfferFeed(components: OfferFeedComponents) {
  const { host, chainId, book, logger } = components;
  const pubsub = host.services.pubsub;

  const validate = async (_peer: unknown, message: Message): Promise<TopicValidatorResult> => {
    const verdict = await validateOffer(
      { chainId, seqOf: (provider) => book.seqOf(provider) },
      { data: message.data },
    );
    if (verdict.result !== "accept") {
      logger.debug("offer refused", { verdict: verdict.result, reason: verdict.reason });
      return verdict.result === "ignore" ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject;
    }
    const { offer, expiresAt } = verdict;
    // Listing waits for the registry; validation does not, so relaying is never held up by the chain.
    void components
      .isActiveProvider(offer.provider as Address)
      .then((active) => {
        if (!active) logger.debug("offer of a provider that is not active", { provider: offer.provider });
        else if (book.add(offer, expiresAt))
          logger.debug("offer listed", { provider: offer.provider, seq: offer.seq });
      })
      .catch((error: Error) => logger.warn("registry check failed", { error: error.message.split("\n")[0] }));
    return TopicValidatorResult.Accept;
  };

  return {
    start() {
      pubsub.topicValidators.set(OFFERS_TOPIC, validate);
      pubsub.subscribe(OFFERS_TOPIC);
    },
    stop() {
      pubsub.unsubscribe(OFFERS_TOPIC);
      pubsub.topicValidators.delete(OFFERS_TOPIC);
    },
  };
}

export type OfferFeed = ReturnType<typeof createOfferFeed>;
