import type { Address, PublicClient } from "viem";
import { providerRegistryAbi } from "../chain/artifacts.generated.ts";

/** How long a "not active" answer is believed: a provider may register meanwhile. */
export const INACTIVE_RECHECK_MS = 30_000;

/**
 * `ProviderRegistry.isActive`, cached for the session: an active provider stays listed (its stake
 * leaves only after the unbonding period), an inactive one is asked again after INACTIVE_RECHECK_MS.
 * Concurrent questions about one provider share one call. A failed call counts as not active, once.
 */
export function createActiveProviderCheck(components: {
  publicClient: Pick<PublicClient, "readContract">;
  registry: Address;
  now?: () => number;
}): (provider: Address) => Promise<boolean> {
  const now = components.now ?? Date.now;
  const known = new Map<string, { active: boolean; at: number }>();
  const pending = new Map<string, Promise<boolean>>();
  return async (provider) => {
    const key = provider.toLowerCase();
    const cached = known.get(key);
    if (cached !== undefined && (cached.active || now() - cached.at < INACTIVE_RECHECK_MS))
      return cached.active;
    let ask = pending.get(key);
    if (ask === undefined) {
      ask = components.publicClient
        .readContract({
          address: components.registry,
          abi: providerRegistryAbi,
          functionName: "isActive",
          args: [provider],
        })
        .catch(() => false)
        .then((active) => {
          known.set(key, { active, at: now() });
          pending.delete(key);
          return active;
        });
      pending.set(key, ask);
    }
    return ask;
  };
}
