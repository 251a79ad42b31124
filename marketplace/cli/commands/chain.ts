import { createChainClients } from "../../chain/clients.ts";
import { defaultDeploymentsDir } from "../../chain/defaultDeploymentsDir.ts";
import { deployGridspot } from "../../chain/deploy.ts";
import { writeDeployment } from "../../chain/deployments.ts";
import { KeystoreError } from "../../wallet/keystore.ts";
import { chainContext } from "../chainContext.ts";
import type { GlobalOptions } from "../globalOptions.ts";
import type { CommandResult } from "./types.ts";

/** `chain deploy`: the three contracts to the --rpc-url chain with GRIDSPOT_PRIVATE_KEY, recorded in deployments/. */
export async function chainDeploy(options: GlobalOptions, p: { faucet: boolean }): Promise<CommandResult> {
  const privateKey = process.env.GRIDSPOT_PRIVATE_KEY;
  if (privateKey === undefined) throw new KeystoreError("Set GRIDSPOT_PRIVATE_KEY to the deployer's key");
  chainContext.rpcUrl = options.rpcUrl;
  const clients = await createChainClients({ rpcUrl: options.rpcUrl, privateKey });
  chainContext.chainId = clients.chain.id;
  chainContext.address = clients.walletClient.account.address;
  const deployment = await deployGridspot(clients, p.faucet ? { token: { faucet: true } } : {});
  const path = await writeDeployment(options.deploymentsDir ?? defaultDeploymentsDir(), deployment);
  return {
    json: { ...deployment, path },
    text: [
      `Deployed to chain ${deployment.chainId} (block ${deployment.deployBlock})`,
      ...Object.entries(deployment.contracts).map(([k, v]) => `  ${k.padEnd(18)} ${v}`),
      `Recorded in ${path}`,
    ].join("\n"),
  };
}
