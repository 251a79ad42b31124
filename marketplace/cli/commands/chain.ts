import { parseArgs } from "node:util";
import { createChainClients } from "../../chain/clients.ts";
import { defaultDeploymentsDir } from "../../chain/defaultDeploymentsDir.ts";
import { deployGridspot } from "../../chain/deploy.ts";
import { writeDeployment } from "../../chain/deployments.ts";
import { UsageError } from "../../errors/usage.ts";
import { GLOBAL_OPTION_SPEC, resolveGlobalOptions } from "../globalOptions.ts";
import type { CommandResult } from "./types.ts";

/** `chain deploy`: the three contracts to the --rpc-url chain with GRIDSPOT_PRIVATE_KEY, recorded in deployments/. */
export async function chainDeploy(argv: string[]): Promise<CommandResult> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: { ...GLOBAL_OPTION_SPEC, faucet: { type: "boolean", default: false } },
  });
  const options = resolveGlobalOptions(values, "submitter");
  const privateKey = process.env.GRIDSPOT_PRIVATE_KEY;
  if (privateKey === undefined) throw new UsageError("Set GRIDSPOT_PRIVATE_KEY to the deployer's key");
  const clients = await createChainClients({ rpcUrl: options.rpcUrl, privateKey });
  const deployment = await deployGridspot(clients, values.faucet ? { token: { faucet: true } } : {});
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
