import { PROVIDER_DOWN_MAX_MS, PROVIDER_DOWN_MS } from "./constants.ts";

export type ProviderHealth = {
  /** Epoch ms until which the peer is tried only after the others (0 when healthy). */
  downUntil(peer: string): number;
  /** The peer failed a request before answering (unreachable, stream gone, no replica). */
  failed(peer: string, why: string): void;
  /** The peer answered: healthy again. */
  answered(peer: string): void;
  /** Why each peer is down now, for status. */
  down(): Array<{ peer: string; until: number; why: string }>;
};

/**
 * The gateway's view of its providers' health, from the requests themselves: a provider that fails
 * one before answering is tried after the others for PROVIDER_DOWN_MS, doubling (to
 * PROVIDER_DOWN_MAX_MS) while it keeps failing; an answer makes it healthy again. Down providers
 * are still tried when every other one failed, so an endpoint never refuses while one may answer.
 */
export function createProviderHealth(clock: () => number = Date.now): ProviderHealth {
  const state = new Map<string, { until: number; backoffMs: number; why: string }>();
  return {
    downUntil: (peer) => state.get(peer)?.until ?? 0,
    failed(peer, why) {
      const previous = state.get(peer);
      const backoffMs =
        previous === undefined ? PROVIDER_DOWN_MS : Math.min(previous.backoffMs * 2, PROVIDER_DOWN_MAX_MS);
      state.set(peer, { until: clock() + backoffMs, backoffMs, why });
    },
    answered(peer) {
      state.delete(peer);
    },
    down: () =>
      [...state]
        .filter(([, s]) => s.until > clock())
        .map(([peer, s]) => ({ peer, until: s.until, why: s.why })),
  };
}
