import { RATE_LIMIT_MAX_PEERS } from "./constants.ts";

export type PeerRateLimiterParameters = {
  /** Tokens added per second, per peer. */
  ratePerS: number;
  /** The most tokens a peer can save up: how many it may spend at once after being quiet. */
  burst: number;
  /** Peers remembered at once; a new peer past it makes room by forgetting the idlest. */
  maxPeers?: number;
  /** Milliseconds; defaults to a monotonic clock. */
  now?: () => number;
};

export type PeerRateLimiter = {
  /** Spends one of `peer`'s tokens: false (and nothing spent) when it has none left. */
  take(peer: string): boolean;
  /** Peers currently remembered. */
  readonly size: number;
};

type Bucket = { tokens: number; updatedMs: number };

/**
 * A token bucket per remote peer. A peer starts with a full bucket; forgetting a peer (to bound
 * memory) only ever hands it a full bucket again, which is what an idle peer would have anyway, so
 * peers are forgotten idlest first.
 */
export function createPeerRateLimiter(parameters: PeerRateLimiterParameters): PeerRateLimiter {
  const { ratePerS, burst } = parameters;
  if (!(ratePerS > 0) || !(burst >= 1)) {
    throw new RangeError(`a rate limit needs ratePerS > 0 and burst >= 1 (got ${ratePerS}, ${burst})`);
  }
  const maxPeers = parameters.maxPeers ?? RATE_LIMIT_MAX_PEERS;
  const now = parameters.now ?? (() => performance.now());
  // Map keeps insertion order; a peer is re-inserted on each use, so the first key is the idlest.
  const buckets = new Map<string, Bucket>();

  return {
    take(peer) {
      const t = now();
      const held = buckets.get(peer);
      let tokens = burst;
      if (held !== undefined) {
        tokens = Math.min(burst, held.tokens + ((t - held.updatedMs) / 1000) * ratePerS);
        buckets.delete(peer);
      } else if (buckets.size >= maxPeers) {
        const idlest = buckets.keys().next().value;
        if (idlest !== undefined) buckets.delete(idlest);
      }
      const allowed = tokens >= 1;
      buckets.set(peer, { tokens: allowed ? tokens - 1 : tokens, updatedMs: t });
      return allowed;
    },
    get size() {
      return buckets.size;
    },
  };
}
