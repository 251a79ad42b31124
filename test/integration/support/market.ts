// One chain with the gridspot contracts per test file, and what the tests read from it. Every
// figure about money in the integration tests comes from here: the chain is the source of truth.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Address, type Hex, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { computeEscrowAbi, computeTokenAbi } from "../../../marketplace/chain/artifacts.generated.ts";
import { createChainClients, type WalletChainClients } from "../../../marketplace/chain/clients.ts";
import { deployGridspot } from "../../../marketplace/chain/deploy.ts";
import type { Deployment } from "../../../marketplace/chain/deployment.ts";
import { writeDeployment } from "../../../marketplace/chain/deployments.ts";
import { type LocalChain, startLocalChain } from "../../../scripts/lib/localChain.ts";

export const GRID = 10n ** 18n;
/** The protocol fee the test deployments charge, so `paid` and `fee` differ from the voucher amount. */
export const FEE_BPS = 100;

export type Market = {
  chain: LocalChain;
  rpcUrl: string;
  deployer: WalletChainClients;
  deployment: Deployment;
  deploymentsDir: string;
  /** A temporary folder for this file's data dirs; removed by stop(). */
  work: string;
  /** A fresh account with gas and `grid` GRID, so tests never share a wallet. */
  fundAccount(grid: bigint): Promise<{ key: Hex; address: Address }>;
  tokenBalance(account: Address): Promise<bigint>;
  channel(
    channelId: bigint,
  ): Promise<{ payer: Address; provider: Address; amount: bigint; redeemed: bigint }>;
  redeemedEvents(filter: {
    channelId?: bigint;
    provider?: Address;
  }): Promise<
    { channelId: bigint; provider: Address; cumulativeAmount: bigint; paid: bigint; fee: bigint; tx: Hex }[]
  >;
  stop(): Promise<void>;
};

/** Starts anvil, deploys the contracts and writes `deployments/<chainId>.json` for the nodes. */
export async function startMarket(): Promise<Market> {
  const work = await mkdtemp(join(tmpdir(), "gridspot-it-"));
  let chain: LocalChain | undefined;
  try {
    chain = await startLocalChain({ accounts: 1 });
    const deployerKey = chain.privateKeys[0];
    if (deployerKey === undefined) throw new Error("anvil returned no account");
    const deployer = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: deployerKey });
    const deployment = await deployGridspot(deployer, {
      token: { faucet: false },
      escrow: { challengePeriodS: 3600, feeBps: FEE_BPS },
    });
    const deploymentsDir = join(work, "deployments");
    await writeDeployment(deploymentsDir, deployment);
    const { computeToken: token, computeEscrow: escrow } = deployment.contracts;
    const { publicClient, walletClient } = deployer;

    const wait = async (hash: Hex) => {
      const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: 30_000 });
      if (receipt.status !== "success") throw new Error(`funding transaction ${hash} reverted`);
    };
    const started = chain;
    return {
      chain: started,
      rpcUrl: started.rpcUrl,
      deployer,
      deployment,
      deploymentsDir,
      work,
      async fundAccount(grid) {
        const key = generatePrivateKey();
        const address = privateKeyToAccount(key).address;
        await wait(await walletClient.sendTransaction({ to: address, value: parseEther("10") }));
        if (grid > 0n)
          await wait(
            await walletClient.writeContract({
              address: token,
              abi: computeTokenAbi,
              functionName: "transfer",
              args: [address, grid],
            }),
          );
        return { key, address };
      },
      tokenBalance: (account) =>
        publicClient.readContract({
          address: token,
          abi: computeTokenAbi,
          functionName: "balanceOf",
          args: [account],
        }),
      async channel(channelId) {
        const c = await publicClient.readContract({
          address: escrow,
          abi: computeEscrowAbi,
          functionName: "getChannel",
          args: [channelId],
        });
        return { payer: c.payer, provider: c.provider, amount: c.amount, redeemed: c.redeemed };
      },
      async redeemedEvents(filter) {
        // Redeemed carries (channelId, cumulativeAmount, paid): the provider comes from the channel,
        // and the fee share of a redemption is what it added to the channel minus what it paid.
        const logs = await publicClient.getContractEvents({
          address: escrow,
          abi: computeEscrowAbi,
          eventName: "Redeemed",
          args: filter.channelId === undefined ? {} : { channelId: filter.channelId },
          fromBlock: deployment.deployBlock,
        });
        const previous = new Map<bigint, bigint>();
        const providers = new Map<bigint, Address>();
        const out = [];
        for (const l of logs) {
          const channelId = l.args.channelId ?? 0n;
          const cumulativeAmount = l.args.cumulativeAmount ?? 0n;
          const paid = l.args.paid ?? 0n;
          if (!providers.has(channelId)) {
            const c = await publicClient.readContract({
              address: escrow,
              abi: computeEscrowAbi,
              functionName: "getChannel",
              args: [channelId],
            });
            providers.set(channelId, c.provider);
          }
          const provider = providers.get(channelId) as Address;
          const fee = cumulativeAmount - (previous.get(channelId) ?? 0n) - paid;
          previous.set(channelId, cumulativeAmount);
          if (filter.provider !== undefined && provider !== filter.provider) continue;
          out.push({ channelId, provider, cumulativeAmount, paid, fee, tx: l.transactionHash });
        }
        return out;
      },
      async stop() {
        await started.stop();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await chain?.stop();
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}
