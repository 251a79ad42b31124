import { generateKeyPair } from "@libp2p/crypto/keys";
import { createChainClients } from "../chain/clients.ts";
import { defaultDeploymentsDir } from "../chain/defaultDeploymentsDir.ts";
import type { Deployment } from "../chain/deployment.ts";
import { readDeployment } from "../chain/deployments.ts";
import { createLogger } from "../log/createLogger.ts";
import { createHost, type GridspotHost } from "../p2p/createHost.ts";
import { createActiveProviderCheck } from "./activeProviders.ts";
import { createOfferFeed } from "./createOfferFeed.ts";
import { OfferBook } from "./offerBook.ts";

export type MarketViewSettings = {
  rpcUrl: string;
  deploymentsDir?: string | undefined;
  bootstrap: string[];
  listen?: string[] | undefined;
  localNetwork?: boolean | undefined;
};

export type MarketView = {
  book: OfferBook;
  host: GridspotHost;
  deployment: Deployment;
  close(): Promise<void>;
};

/**
 * A read-only seat in the market for `gridspot market …`: no wallet, a throwaway libp2p identity
 * (so it never collides with a submitter's own peer id), the offers topic and the registry check.
 */
export async function openMarketView(settings: MarketViewSettings): Promise<MarketView> {
  const clients = await createChainClients({ rpcUrl: settings.rpcUrl });
  const deployment = await readDeployment(
    settings.deploymentsDir ?? defaultDeploymentsDir(),
    clients.chain.id,
  );
  const book = new OfferBook();
  const host = await createHost({
    privateKey: await generateKeyPair("Ed25519"),
    listen: settings.listen ?? ["/ip4/127.0.0.1/tcp/0"],
    bootstrap: settings.bootstrap,
    localNetwork: settings.localNetwork ?? false,
    // A short-lived client: it uses the DHT but does not serve it.
    dhtServer: false,
  });
  const feed = createOfferFeed({
    host,
    chainId: clients.chain.id,
    book,
    logger: createLogger("gridspot:client:offer"),
    isActiveProvider: createActiveProviderCheck({
      publicClient: clients.publicClient,
      registry: deployment.contracts.providerRegistry,
    }),
  });
  feed.start();
  return {
    book,
    host,
    deployment,
    async close() {
      feed.stop();
      await host.stop();
    },
  };
}
