import { join } from "node:path";
import { type Address, type Hex, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { computeEscrowAbi, computeTokenAbi } from "../../chain/artifacts.generated.ts";
import type { ChainClients } from "../../chain/clients.ts";
import { isDevChainId, NoGasError } from "../../chain/errors.ts";
import { BaseError } from "../../errors/base.ts";
import { UsageError } from "../../errors/usage.ts";
import { KeystoreError, writeKeystoreFile } from "../../wallet/keystore.ts";
import { confirm } from "../confirm.ts";
import { formatAmount, formatGrid, parseGrid } from "../format.ts";
import type { GlobalOptions } from "../globalOptions.ts";
import { openChain } from "../openChain.ts";
import type { CommandResult } from "./types.ts";

/** Below this much ETH a dev-chain faucet tops the wallet's gas up… */
const DEV_GAS_LOW = parseEther("0.1");
/** …to this much, from the dev node's first funded account. */
const DEV_GAS_GRANT = parseEther("1");

const eth = (wei: bigint) => `${formatAmount(wei)} ETH`;

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
  return {
    json: { address, keystore: path },
    text: `Created wallet ${address}\nKeystore: ${path}\nNext: \`gridspot wallet faucet\` (local chains and testnets) or send it GRID and gas.`,
  };
}

/** `wallet balance`: GRID in the wallet, free in the escrow, and gas. */
export async function walletBalance(options: GlobalOptions): Promise<CommandResult> {
  const { account, clients, deployment } = await openChain(options, { wallet: true });
  const read = clients.publicClient;
  const [native, grid, free] = await Promise.all([
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
    json: { address: account.address, chainId: clients.chain.id, native, grid, escrowFree: free },
    text: [
      `Address      ${account.address} (chain ${clients.chain.id})`,
      `Wallet       ${formatGrid(grid)}`,
      `Escrow free  ${formatGrid(free)}`,
      `Gas          ${eth(native)}${native === 0n ? " (none: transactions will fail)" : ""}`,
    ].join("\n"),
  };
}

/**
 * `wallet faucet`: the token's faucet amount of test GRID. On a local dev chain (anvil, Hardhat) it
 * first gives the wallet gas from the dev node's funded account; elsewhere, without gas, it says how
 * to get some instead of sending a transaction that cannot pay.
 */
export async function walletFaucet(options: GlobalOptions): Promise<CommandResult> {
  const { account, clients, deployment } = await openChain(options, { wallet: true });
  const token = deployment.contracts.computeToken;
  const read = clients.publicClient;
  let gas: { amount: bigint; tx: Hex; from: Address } | null = null;
  const native = await read.getBalance({ address: account.address });
  if (native < DEV_GAS_LOW && isDevChainId(clients.chain.id)) {
    gas = await devGas(clients, account.address, DEV_GAS_GRANT - native);
  } else if (native === 0n) {
    throw new NoGasError(account.address, clients.chain.id);
  }
  const amount = await read.readContract({
    address: token,
    abi: computeTokenAbi,
    functionName: "faucetAmount",
  });
  if (amount === 0n) {
    if (gas !== null)
      return {
        json: { address: account.address, amount: 0n, tx: null, gas },
        text: `Received ${eth(gas.amount)} of gas; this deployment has no GRID faucet.`,
      };
    throw new UsageError("This deployment has no faucet (it is enabled only on local chains and testnets)");
  }
  const hash = await clients.walletClient.writeContract({
    address: token,
    abi: computeTokenAbi,
    functionName: "faucet",
  });
  await confirm(read, { hash, what: "faucet" });
  return {
    json: { address: account.address, amount, tx: hash, gas },
    text: [
      `Received ${formatGrid(amount)} (tx ${hash})`,
      ...(gas === null ? [] : [`and ${eth(gas.amount)} of gas from the dev chain's account ${gas.from}`]),
    ].join("\n"),
  };
}

/** Sends `amount` wei from the dev node's first unlocked account (anvil and Hardhat unlock theirs). */
async function devGas(
  clients: ChainClients,
  to: Address,
  amount: bigint,
): Promise<{ amount: bigint; tx: Hex; from: Address }> {
  // Dev-node methods viem's public client does not type: the node signs for its unlocked account.
  const request = clients.publicClient.request as unknown as (a: {
    method: string;
    params?: unknown[];
  }) => Promise<unknown>;
  const accounts = (await request({ method: "eth_accounts" })) as Address[];
  const from = accounts[0];
  if (from === undefined)
    throw new NoGasError(to, clients.chain.id, {
      details: "The dev node has no unlocked account to give gas from.",
    });
  const tx = (await request({
    method: "eth_sendTransaction",
    params: [{ from, to, value: `0x${amount.toString(16)}` }],
  })) as Hex;
  await confirm(clients.publicClient, { hash: tx, what: "dev gas" });
  return { amount, tx, from };
}

/** `wallet deposit AMOUNT`: wallet → escrow free balance, approving first. */
export async function walletDeposit(
  options: GlobalOptions,
  p: { amount: string | undefined },
): Promise<CommandResult> {
  if (p.amount === undefined) throw new UsageError("Usage: gridspot wallet deposit AMOUNT (in GRID)");
  const amount = parseGrid(p.amount, "AMOUNT");
  if (amount === 0n) throw new UsageError("AMOUNT must be above zero");
  const { clients, deployment } = await openChain(options, { wallet: true });
  const { computeToken: token, computeEscrow: escrow } = deployment.contracts;
  await confirm(clients.publicClient, {
    what: "approve",
    hash: await clients.walletClient.writeContract({
      address: token,
      abi: computeTokenAbi,
      functionName: "approve",
      args: [escrow, amount],
    }),
  });
  const hash = await clients.walletClient.writeContract({
    address: escrow,
    abi: computeEscrowAbi,
    functionName: "deposit",
    args: [amount],
  });
  await confirm(clients.publicClient, { hash, what: "deposit" });
  return { json: { amount, tx: hash }, text: `Deposited ${formatGrid(amount)} into the escrow (tx ${hash})` };
}

/** `wallet withdraw [AMOUNT]`: escrow free balance → wallet; all of it without an amount. */
export async function walletWithdraw(
  options: GlobalOptions,
  p: { amount: string | undefined },
): Promise<CommandResult> {
  const asked = p.amount === undefined ? undefined : parseGrid(p.amount, "AMOUNT");
  if (asked === 0n) throw new UsageError("AMOUNT must be above zero");
  const { account, clients, deployment } = await openChain(options, { wallet: true });
  const escrow = deployment.contracts.computeEscrow;
  const free = await clients.publicClient.readContract({
    address: escrow,
    abi: computeEscrowAbi,
    functionName: "freeBalance",
    args: [account.address],
  });
  const amount = asked ?? free;
  if (amount === 0n)
    return {
      json: { amount: 0n, tx: null, escrowFree: free },
      text: "Nothing to withdraw: the escrow holds no free GRID of yours (money in open channels comes back when they close: `gridspot channel list`).",
    };
  if (amount > free)
    throw new BaseError(
      `The escrow holds ${formatGrid(free)} free; ${formatGrid(amount)} cannot be withdrawn.`,
      {
        metaMessages: [
          "GRID in open channels comes back to the free balance when they close (`gridspot channel close ID`).",
        ],
      },
    );
  const hash = await clients.walletClient.writeContract({
    address: escrow,
    abi: computeEscrowAbi,
    functionName: "withdraw",
    args: [amount],
  });
  await confirm(clients.publicClient, { hash, what: "withdraw" });
  return {
    json: { amount, tx: hash, escrowFree: free - amount },
    text: `Withdrew ${formatGrid(amount)} from the escrow to the wallet (tx ${hash}); ${formatGrid(free - amount)} left free.`,
  };
}
