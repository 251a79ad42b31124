import {
  type Account,
  type Address,
  type Chain,
  type GetContractReturnType,
  getContract,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { computeEscrowAbi, computeTokenAbi, providerRegistryAbi } from "./artifacts.generated.ts";
import type { ChainClients } from "./clients.ts";
import type { Deployment } from "./deployment.ts";
import { ChainMismatchError } from "./errors.ts";

type ContractClient<clients extends ChainClients> = clients extends {
  walletClient: WalletClient<Transport, Chain, Account>;
}
  ? { public: PublicClient<Transport, Chain>; wallet: WalletClient<Transport, Chain, Account> }
  : { public: PublicClient<Transport, Chain> };

/** The three contracts as viem contract instances; `write` methods exist only with a wallet client. */
export type GridspotContracts<clients extends ChainClients = ChainClients> = {
  computeToken: GetContractReturnType<typeof computeTokenAbi, ContractClient<clients>, Address>;
  providerRegistry: GetContractReturnType<typeof providerRegistryAbi, ContractClient<clients>, Address>;
  computeEscrow: GetContractReturnType<typeof computeEscrowAbi, ContractClient<clients>, Address>;
};

/** viem contract instances for a deployment, after checking it is for the clients' chain. */
export function getGridspotContracts<const clients extends ChainClients>(
  clients: clients,
  deployment: Deployment,
): GridspotContracts<clients> {
  if (deployment.chainId !== clients.chain.id)
    throw new ChainMismatchError(deployment.chainId, clients.chain.id);
  const client =
    clients.walletClient === undefined
      ? { public: clients.publicClient }
      : { public: clients.publicClient, wallet: clients.walletClient };
  const { computeToken, providerRegistry, computeEscrow } = deployment.contracts;
  return {
    computeToken: getContract({ abi: computeTokenAbi, address: computeToken, client }),
    providerRegistry: getContract({ abi: providerRegistryAbi, address: providerRegistry, client }),
    computeEscrow: getContract({ abi: computeEscrowAbi, address: computeEscrow, client }),
  } as unknown as GridspotContracts<clients>;
}
