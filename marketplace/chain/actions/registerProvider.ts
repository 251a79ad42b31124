import type { Account, Address, Chain, PublicClient, Transport, WalletClient } from "viem";
import { computeTokenAbi, providerRegistryAbi } from "../artifacts.generated.ts";
import { waitForSuccess } from "./waitForSuccess.ts";

export type RegisterProviderParameters = {
  registry: Address;
  token: Address;
  /** The libp2p peer id clients dial. */
  peerId: string;
  metadata: string;
  /** Token base units staked (at least the registry's `minStake`). */
  stake: bigint;
};

/**
 * Registers the wallet's account as a provider: approves the stake to the registry, then `register`,
 * each waited for until it succeeds.
 * @throws TransactionRevertedError when either transaction reverts.
 */
export async function registerProvider(
  clients: {
    publicClient: Pick<PublicClient, "waitForTransactionReceipt">;
    walletClient: WalletClient<Transport, Chain, Account>;
  },
  p: RegisterProviderParameters,
): Promise<void> {
  const { publicClient, walletClient } = clients;
  await waitForSuccess(publicClient, {
    what: "approve the stake",
    hash: await walletClient.writeContract({
      address: p.token,
      abi: computeTokenAbi,
      functionName: "approve",
      args: [p.registry, p.stake],
    }),
  });
  await waitForSuccess(publicClient, {
    what: "register",
    hash: await walletClient.writeContract({
      address: p.registry,
      abi: providerRegistryAbi,
      functionName: "register",
      args: [p.peerId, p.metadata, p.stake],
    }),
  });
}
