// The registry check that decides which offers are listed, against a real ProviderRegistry on anvil.
import type { Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChainClients, type WalletChainClients } from "../../../marketplace/chain/clients.ts";
import { getGridspotContracts } from "../../../marketplace/chain/contracts.ts";
import { deployGridspot } from "../../../marketplace/chain/deploy.ts";
import type { Deployment } from "../../../marketplace/chain/deployment.ts";
import {
  createActiveProviderCheck,
  INACTIVE_RECHECK_MS,
} from "../../../marketplace/offer/activeProviders.ts";
import { type LocalChain, startLocalChain } from "../../../scripts/lib/localChain.ts";
import { PEER_A, PEER_B } from "../messages/fixtures.ts";

let chain: LocalChain;
let deployment: Deployment;
let deployer: WalletChainClients;
let providers: WalletChainClients[];

beforeAll(async () => {
  chain = await startLocalChain({ accounts: 3 });
  const [deployerKey, ...keys] = chain.privateKeys as Hex[];
  deployer = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: deployerKey as Hex });
  providers = await Promise.all(keys.map((k) => createChainClients({ rpcUrl: chain.rpcUrl, privateKey: k })));
  deployment = await deployGridspot(deployer);
});
afterAll(() => chain?.stop());

async function register(i: number, peerId: string): Promise<void> {
  const clients = providers[i] as WalletChainClients;
  const stake = deployment.parameters.registry.minStake;
  const wait = async (hash: Hex) => {
    expect((await deployer.publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
  };
  const asDeployer = getGridspotContracts(deployer, deployment);
  await wait(await asDeployer.computeToken.write.transfer([clients.walletClient.account.address, stake]));
  const c = getGridspotContracts(clients, deployment);
  await wait(await c.computeToken.write.approve([deployment.contracts.providerRegistry, stake]));
  await wait(await c.providerRegistry.write.register([peerId, "", stake]));
}

describe("createActiveProviderCheck", () => {
  it("lists registered providers, and asks again about an inactive one only after a while", async () => {
    let now = 0;
    let calls = 0;
    const publicClient = deployer.publicClient;
    const isActive = createActiveProviderCheck({
      publicClient: {
        readContract: ((parameters: Parameters<typeof publicClient.readContract>[0]) => {
          calls += 1;
          return publicClient.readContract(parameters);
        }) as typeof publicClient.readContract,
      },
      registry: deployment.contracts.providerRegistry,
      now: () => now,
    });
    const [a, b] = [0, 1].map((i) => (providers[i] as WalletChainClients).walletClient.account.address) as [
      `0x${string}`,
      `0x${string}`,
    ];
    await register(0, PEER_A);
    // Concurrent questions share one call; answers are remembered.
    expect(await Promise.all([isActive(a), isActive(a), isActive(b)])).toEqual([true, true, false]);
    expect(calls).toBe(2);
    expect(await isActive(a)).toBe(true);
    expect(calls).toBe(2);

    await register(1, PEER_B);
    now += INACTIVE_RECHECK_MS - 1;
    expect(await isActive(b)).toBe(false);
    now += 1;
    expect(await isActive(b)).toBe(true);
    expect(calls).toBe(3);
  });

  it("treats a registry that cannot be read as not active", async () => {
    const isActive = createActiveProviderCheck({
      publicClient: (await createChainClients({ rpcUrl: chain.rpcUrl })).publicClient,
      // Not a registry: the call reverts.
      registry: deployment.contracts.computeToken,
    });
    expect(await isActive(deployment.deployer)).toBe(false);
  });
});
