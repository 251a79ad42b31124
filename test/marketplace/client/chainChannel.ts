import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex } from "viem";
import { createChainClients, type WalletChainClients } from "../../../marketplace/chain/clients.ts";
import { getGridspotContracts } from "../../../marketplace/chain/contracts.ts";
import { deployGridspot } from "../../../marketplace/chain/deploy.ts";
import type { Deployment } from "../../../marketplace/chain/deployment.ts";
import { writeDeployment } from "../../../marketplace/chain/deployments.ts";
import { compactVoucherSignature } from "../../../marketplace/chain/voucher.ts";
import { type LocalChain, startLocalChain } from "../../../scripts/lib/localChain.ts";

export type ChainChannel = {
  chain: LocalChain;
  deployment: Deployment;
  /** Holds `<chainId>.json` for the CLI and createSubmitter. */
  deploymentsDir: string;
  payerKey: Hex;
  providerKey: Hex;
  channelId: bigint;
  /** The provider redeems a voucher on the escrow; resolves with the transaction hash. */
  redeem(cumulativeAmount: bigint, signature: Hex): Promise<Hex>;
  stop(): Promise<void>;
};

/**
 * A real anvil with gridspot deployed and one funded channel from the payer (anvil account 0, which
 * holds the initial token supply) to the provider (account 1).
 */
export async function chainChannel(channelAmount: bigint): Promise<ChainChannel> {
  const chain = await startLocalChain({ accounts: 2 });
  try {
    const [payerKey, providerKey] = chain.privateKeys as [Hex, Hex];
    const payer = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: payerKey });
    const provider: WalletChainClients = await createChainClients({
      rpcUrl: chain.rpcUrl,
      privateKey: providerKey,
    });
    const deployment = await deployGridspot(payer);
    const deploymentsDir = await mkdtemp(join(tmpdir(), "gridspot-deployments-"));
    await writeDeployment(deploymentsDir, deployment);
    const asPayer = getGridspotContracts(payer, deployment);
    const wait = async (hash: Hex) => {
      const receipt = await payer.publicClient.waitForTransactionReceipt({ hash });
      if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
    };
    await wait(await asPayer.computeToken.write.approve([deployment.contracts.computeEscrow, channelAmount]));
    await wait(await asPayer.computeEscrow.write.deposit([channelAmount]));
    const expiry = (await payer.publicClient.getBlock()).timestamp + 86_400n;
    await wait(
      await asPayer.computeEscrow.write.openChannel([
        provider.walletClient.account.address,
        channelAmount,
        expiry,
      ]),
    );
    const channelId = await asPayer.computeEscrow.read.lastChannelId();
    const asProvider = getGridspotContracts(provider, deployment);
    return {
      chain,
      deployment,
      deploymentsDir,
      payerKey,
      providerKey,
      channelId,
      async redeem(cumulativeAmount, signature) {
        const { r, vs } = compactVoucherSignature(signature);
        const hash = await asProvider.computeEscrow.write.redeem([channelId, cumulativeAmount, r, vs]);
        await wait(hash);
        return hash;
      },
      stop: () => chain.stop(),
    };
  } catch (error) {
    await chain.stop();
    throw error;
  }
}
