import type { CapacityOffer } from "../messages/offer.ts";

export type BookEntry = { offer: CapacityOffer; expiresAt: number; receivedAt: number };

/**
 * The submitter's view of the market: the newest valid CapacityOffer of each provider. An offer
 * with a `seq` not above the one held is a duplicate or stale and changes nothing; expired offers
 * leave the book. Offers reach it only after the gossip validator checked their signature.
 */
export class OfferBook {
  readonly #entries = new Map<string, BookEntry>();
  readonly #now: () => number;
  #lastAddedAt: number | undefined;

  constructor(options: { now?: () => number } = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** Adds an offer (its envelope expires at `expiresAtS`, Unix seconds); false when it is not newer than the one held. */
  add(offer: CapacityOffer, expiresAtS: number): boolean {
    const key = offer.provider.toLowerCase();
    const held = this.#entries.get(key);
    if (held !== undefined && held.offer.seq >= offer.seq && held.expiresAt > this.#now()) return false;
    const now = this.#now();
    if (expiresAtS * 1000 <= now) return false;
    this.#entries.set(key, { offer, expiresAt: expiresAtS * 1000, receivedAt: now });
    this.#lastAddedAt = now;
    return true;
  }

  /** The seq of the live offer held for `provider`, if any: a gossiped offer must be newer. */
  seqOf(provider: string): number | undefined {
    const held = this.#entries.get(provider.toLowerCase());
    return held === undefined || held.expiresAt <= this.#now() ? undefined : held.offer.seq;
  }

  /** When an offer last entered the book (epoch ms), to tell when offers stop arriving. */
  get lastAddedAt(): number | undefined {
    return this.#lastAddedAt;
  }

  /** Live offers, optionally only those with GPUs of `gpuClass`, ordered by provider address. */
  offers(filter: { gpuClass?: string | undefined } = {}): BookEntry[] {
    const now = this.#now();
    const live: BookEntry[] = [];
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) {
        this.#entries.delete(key);
        continue;
      }
      if (filter.gpuClass !== undefined && !entry.offer.resources.some((r) => r.class === filter.gpuClass))
        continue;
      live.push(entry);
    }
    return live.sort((a, b) => (a.offer.provider.toLowerCase() < b.offer.provider.toLowerCase() ? -1 : 1));
  }

  get size(): number {
    return this.offers().length;
  }
}
