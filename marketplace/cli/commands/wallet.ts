import { join } from "node:path";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { computeEscrowAbi, computeTokenAbi } from "../../chain/artifacts.generated.ts";
import { createChainClients } from "../../chain/clients.ts";
import { defaultDeploymentsDir } from "../../chain/defaultDeploymentsDir.ts";
import { readDeployment } from "../../chain/deployments.ts";
import { UsageError } from "../../errors/usage.ts";
import { KeystoreError, writeKeystoreFile } from "../../wallet/keystore.ts";
import { formatGrid, parseGrid } from "../format.ts";
import { type GlobalOptions, loadCliAccount } from "../globalOptions.ts";
import type { CommandResult } from "./types.ts";

async function walletContext(options: GlobalOptions) {
  const account = await loadCliAccount(options);
  const clients = await createChainClients({ rpcUrl: options.rpcUrl, account });
  const deployment = await readDeployment(
    options.deploymentsDir ?? defaultDeploymentsDir(),
    clients.chain.id,
  );
  return { account, clients, deployment };
}

const waitFor = async (
  clients: Awaited<ReturnType<typeof walletContext>>["clients"],
  hash: `0x${string}`,
) => {
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new UsageError(`Transaction ${hash} reverted`);
  return receipt;
};

/** `wallet create`: a new key in an encrypted keystore (GRIDSPOT_PASSWORD), never printed. */
export async function walletCreate(options: GlobalOptions): Promise<CommandResult> {
  const password = process.env.GRIDSPOT_PASSWORD;
  if (password === undefined || password.length < 8) {
    throw new KeystoreError("Set GRIDSPOT_PASSWORD (at least 8 characters) to encrypt the new wallet");
  }
  const path = process.env.GRIDSPOT_KEYSTORE ?? join(options.dataDir, "keystore.json");
  const key = generatePrivateKey();
  try {
    await writeKeystoreFile(path, key, password);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      throw new KeystoreError(`A keystore already exists at ${path}`);
    throw error;
  }
  const address = privateKeyToAddress(key);
  return { json: { address, keystore: path }, text: `Created wallet ${address}\nKeystore: ${path}` };
}

export async function walletBalance(options: GlobalOptions): Promise<CommandResult> {
  const { account, clients, deployment } = await walletContext(options);
  const read = clients.publicClient;
  const [eth, grid, free] = await Promise.all([
    read.getBalance({ address: account.address }),
    read.readContract({
      address: deployment.contracts.computeToken,
      abi: computeTokenAbi,
      functionName: "balanceOf",
      args: [account.address],
    }),
    read.readContract({
      address: deployment.contracts.computeEscrow,
      abi: computeEscrowAbi,
      functionName: "freeBalance",
      args: [account.address],
    }),
  ]);
  return {
    json: { address: account.address, chainId: clients.chain.id, native: eth, grid, escrowFree: free },
    text: [
      `Address      ${account.address}`,
      `Wallet       ${formatGrid(grid)}`,
      `Escrow free  ${formatGrid(free)}`,
      `Native       ${eth} wei`,
    ].join("\n"),
  };
}

export async function walletFaucet(options: GlobalOptions): Promise<CommandResult> {
  const { account, clients, deployment } = await walletContext(options);
  const token = deployment.contracts.computeToken;
  const amount = await clients.publicClient.readContract({
    address: token,
    abi: computeTokenAbi,
    functionName: "faucetAmount",
  });
  if (amount === 0n)
    throw new UsageError("This deployment has no faucet (it is enabled only on local chains and testnets)");
  const hash = await clients.walletClient.writeContract({
    address: token,
    abi: computeTokenAbi,
    functionName: "faucet",
  });
  await waitFor(clients, hash);
  return {
    json: { address: account.address, amount, tx: hash },
    text: `Received ${formatGrid(amount)} (tx ${hash})`,
  };
}

/** `wallet deposit AMOUNT`: wallet → escrow free balance, approving first. */
export async function walletDeposit(
  options: GlobalOptions,
  amountText: string | undefined,
): Promise<CommandResult> {
  if (amountText === undefined) throw new UsageError("Usage: gridspot wallet deposit AMOUNT (in GRID)");
  const amount = parseGrid(amountText, "AMOUNT");
  if (amount === 0n) throw new UsageError("AMOUNT must be above zero");
  const { clients, deployment } = await walletContext(options);
  const { computeToken: token, computeEscrow: escrow } = deployment.contracts;
  await waitFor(
    clients,
    await clients.walletClient.writeContract({
      address: token,
      abi: computeTokenAbi,
      functionName: "approve",
      args: [escrow, amount],
    }),
  );
  const hash = await clients.walletClient.writeContract({
    address: escrow,
    abi: computeEscrowAbi,
    functionName: "deposit",
    args: [amount],
  });
  await waitFor(clients, hash);
  return { json: { amount, tx: hash }, text: `Deposited ${formatGrid(amount)} into the escrow (tx ${hash})` };
}
