// Deploys the gridspot contracts to the network chosen with `--network` and writes
// deployments/<chainId>.json:
//
//   npm run deploy -- --network sepolia        (SEPOLIA_RPC_URL, SEPOLIA_PRIVATE_KEY)
//   npm run deploy -- --network baseSepolia    (BASE_SEPOLIA_RPC_URL, BASE_SEPOLIA_PRIVATE_KEY)
//   npm run deploy -- --network arbitrumSepolia (ARBITRUM_SEPOLIA_RPC_URL, ARBITRUM_SEPOLIA_PRIVATE_KEY)
//   npm run deploy -- --network rpc            (any JSON-RPC node: GRIDSPOT_RPC_URL, GRIDSPOT_DEPLOYER_KEY)
//
// The variables come from the environment or from `npx hardhat keystore set <NAME>`. Without
// `--network` it deploys to Hardhat's in-process chain, which ends with this process: a dry run
// that prints the deployment but writes no file.
//
// Faucet: on by default where test tokens are free to hand out (chain 31337 and the Sepolia, Base
// Sepolia and Arbitrum Sepolia testnets), off on every other chain, so a deployment to a real
// network never mints tokens to whoever asks. GRIDSPOT_FAUCET=on|off overrides the default.
// The other settings are the defaults in marketplace/chain/constants.ts.
//
// GRIDSPOT_DEPLOYMENTS_DIR writes the file somewhere other than deployments/ (tests use it).
// stdout gets the deployment as one JSON document; progress goes to stderr. The deployer key is
// only ever handled by Hardhat's provider and is never printed.
import { network } from "hardhat";
import { getAddress } from "viem";
import { defaultDeploymentsDir } from "../marketplace/chain/defaultDeploymentsDir.ts";
import { deployGridspot } from "../marketplace/chain/deploy.ts";
import { stringifyDeployment } from "../marketplace/chain/deployment.ts";
import { writeDeployment } from "../marketplace/chain/deployments.ts";
import { InvalidPrivateKeyError } from "../marketplace/chain/errors.ts";
import { parsePrivateKey } from "../marketplace/chain/privateKey.ts";
import { BaseError } from "../marketplace/errors/base.ts";

/** Chains where the faucet is on unless GRIDSPOT_FAUCET=off. */
const FAUCET_CHAIN_IDS: ReadonlySet<number> = new Set([31337, 11155111, 84532, 421614]);

function faucetWanted(chainId: number): boolean {
  const setting = process.env.GRIDSPOT_FAUCET?.trim().toLowerCase();
  if (setting === undefined || setting === "") return FAUCET_CHAIN_IDS.has(chainId);
  if (["on", "1", "true", "yes"].includes(setting)) return true;
  if (["off", "0", "false", "no"].includes(setting)) return false;
  throw new Error(`GRIDSPOT_FAUCET must be "on" or "off", got "${setting}".`);
}

/** Hardhat's own message for a malformed key is cryptic: check the configured keys first. */
async function checkConfiguredKeys(networkName: string, accounts: unknown): Promise<void> {
  if (!Array.isArray(accounts)) return;
  for (const account of accounts as unknown[]) {
    if (typeof account !== "object" || account === null || !("get" in account)) continue;
    const variable = account as { name?: unknown; get(): Promise<string> };
    try {
      parsePrivateKey(await variable.get());
    } catch (error) {
      if (!(error instanceof InvalidPrivateKeyError)) throw error;
      const source = typeof variable.name === "string" ? variable.name : "its private key";
      // Names the variable, never its value.
      throw new InvalidPrivateKeyError(
        `${error.shortMessage.replace(/^Invalid private key: |\.$/g, "")} (${source}, network "${networkName}")`,
      );
    }
  }
}

async function main(): Promise<void> {
  const connection = await network.create();
  try {
    const { viem, networkName, networkConfig } = connection;
    if (networkConfig.type === "http") await checkConfiguredKeys(networkName, networkConfig.accounts);
    const publicClient = await viem.getPublicClient();
    const [walletClient] = await viem.getWalletClients();
    if (walletClient === undefined) {
      throw new Error(`Network "${networkName}" has no account to deploy from: set its private key.`);
    }
    const chainId = await publicClient.getChainId();
    const faucet = faucetWanted(chainId);
    process.stderr.write(
      `deploying gridspot to ${networkName} (chain ${chainId}) from ${getAddress(walletClient.account.address)}, faucet ${faucet ? "on" : "off"}\n`,
    );
    const deployment = await deployGridspot(
      { publicClient, walletClient },
      { token: { faucet }, onProgress: (message) => process.stderr.write(`  ${message}\n`) },
    );
    if (networkConfig.type === "edr-simulated") {
      process.stderr.write(
        "in-process network: no deployment file written (the chain ends with this process)\n",
      );
    } else {
      process.stderr.write(`wrote ${await writeDeployment(defaultDeploymentsDir(), deployment)}\n`);
    }
    process.stdout.write(stringifyDeployment(deployment));
  } finally {
    await connection.close();
  }
}

try {
  await main();
} catch (error) {
  // Ours and Hardhat's errors explain themselves; anything else keeps its stack for a bug report.
  const explained = error instanceof BaseError || (error instanceof Error && error.name === "HardhatError");
  const text =
    error instanceof Error ? (explained ? error.message : (error.stack ?? error.message)) : String(error);
  process.stderr.write(`deploy failed: ${text}\n`);
  process.exitCode = 1;
}
