import { setTimeout as sleep } from "node:timers/promises";
import type { OfferBook } from "./offerBook.ts";

/** How long without a new offer counts as "offers stopped arriving". */
export const OFFERS_QUIET_MS = 1_000;
const POLL_MS = 50;

export type WaitForOffersParameters = {
  /** The most to wait, in milliseconds. */
  maxMs: number;
  /** Return early once offers have come in and none came for this long. */
  quietMs?: number;
  /** Return as soon as the book holds this many offers (instead of waiting for quiet). */
  minOffers?: number;
  /**
   * No early return for quiet before this moment (epoch ms), e.g. a while after the last peer
   * connected: a provider met through another peer publishes its offer only once we joined.
   */
  busyUntil?: () => number;
  signal?: AbortSignal;
};

/**
 * Waits, at most `maxMs`, for the market's offers to come in: providers publish when a peer joins the
 * offers topic, so the book fills within moments of joining and then goes quiet; or until it holds
 * `minOffers`. Returns how long it waited.
 */
export async function waitForOffers(book: OfferBook, p: WaitForOffersParameters): Promise<number> {
  const quietMs = p.quietMs ?? OFFERS_QUIET_MS;
  const started = Date.now();
  for (;;) {
    const now = Date.now();
    if (now - started >= p.maxMs || p.signal?.aborted === true) break;
    if (p.minOffers !== undefined) {
      if (book.size >= p.minOffers) break;
    } else {
      const last = book.lastAddedAt;
      if (last !== undefined && now - last >= quietMs && now >= (p.busyUntil?.() ?? 0)) break;
    }
    await sleep(Math.min(POLL_MS, Math.max(1, started + p.maxMs - now)));
  }
  return Date.now() - started;
}
