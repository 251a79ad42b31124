import type { LocalAccount } from "viem";
import { type ChainClients, createChainClients, type WalletChainClients } from "../chain/clients.ts";
import { defaultDeploymentsDir } from "../chain/defaultDeploymentsDir.ts";
import type { Deployment } from "../chain/deployment.ts";
import { readDeployment } from "../chain/deployments.ts";
import { StaleDeploymentError } from "../chain/errors.ts";
import { chainContext } from "./chainContext.ts";
import { type GlobalOptions, loadCliAccount } from "./globalOptions.ts";

export type OpenChainReturnType<wallet extends boolean> = {
  clients: wallet extends true ? WalletChainClients : ChainClients;
  deployment: Deployment;
  account: wallet extends true ? LocalAccount : undefined;
};

/**
 * The chain a command works on: the wallet (when asked), clients for `--rpc-url`, and the
 * deployment for its chain id, checked to have contract code (a stale file says so in words).
 */
export async function openChain<wallet extends boolean>(
  options: GlobalOptions,
  p: { wallet: wallet },
): Promise<OpenChainReturnType<wallet>> {
  chainContext.rpcUrl = options.rpcUrl;
  const account = p.wallet ? await loadCliAccount(options) : undefined;
  chainContext.address = account?.address;
  const clients = await createChainClients({ rpcUrl: options.rpcUrl, account });
  chainContext.chainId = clients.chain.id;
  const deployment = await readDeployment(
    options.deploymentsDir ?? defaultDeploymentsDir(),
    clients.chain.id,
  );
  chainContext.contracts = { ...deployment.contracts };
  await assertDeployed(clients, deployment);
  return { clients, deployment, account } as OpenChainReturnType<wallet>;
}

/** Every contract of the deployment has code on the chain (one `eth_getCode` each, in parallel). */
export async function assertDeployed(clients: ChainClients, deployment: Deployment): Promise<void> {
  const entries = Object.entries(deployment.contracts);
  const codes = await Promise.all(entries.map(([, address]) => clients.publicClient.getCode({ address })));
  const missing = entries.findIndex((_, i) => codes[i] === undefined || codes[i] === "0x");
  const entry = entries[missing];
  if (entry !== undefined) throw new StaleDeploymentError(entry[0], entry[1], deployment.chainId);
}
