import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { LocalAccount } from "viem";
import { createChainClients, type WalletChainClients } from "../chain/clients.ts";
import { defaultDeploymentsDir } from "../chain/defaultDeploymentsDir.ts";
import type { Deployment } from "../chain/deployment.ts";
import { readDeployment } from "../chain/deployments.ts";
import { createLogger, type Logger } from "../log/createLogger.ts";
import { jobOrder } from "../messages/order.ts";
import { createActiveProviderCheck } from "../offer/activeProviders.ts";
import { createOfferFeed, type OfferFeed } from "../offer/createOfferFeed.ts";
import { OfferBook } from "../offer/offerBook.ts";
import { createReputationReader, type ReputationReader } from "../order/reputation.ts";
import { ORDERS_TOPIC } from "../p2p/constants.ts";
import { createHost, type GridspotHost } from "../p2p/createHost.ts";
import { envelopeTopicValidator } from "../p2p/envelopeTopicValidator.ts";
import { loadOrCreatePeerKey } from "../p2p/peerKey.ts";
import type { Store } from "../store/openStore.ts";
import { type BidCollector, createBidCollector } from "./collectBids.ts";
import { settleOrphanedJobs } from "./settleOrphanedJobs.ts";
import { readSpendPolicy, type SpendPolicy } from "./spendPolicy.ts";
import { openSubmitterStore } from "./submitterStore.ts";

export type SubmitterSettings = {
  dataDir: string;
  rpcUrl: string;
  deploymentsDir?: string | undefined;
  bootstrap: string[];
  listen?: string[] | undefined;
  localNetwork?: boolean | undefined;
};

export type Submitter = {
  /** The submitter's data dir: wallet, store, policy, and each job's logs and outputs (`jobs/<id>/`). */
  dataDir: string;
  account: LocalAccount;
  clients: WalletChainClients;
  deployment: Deployment;
  store: Store;
  logger: Logger;
  /** `<dataDir>/policy.json`: spend caps and budget alerts (defaults when there is no file). */
  policy: SpendPolicy;
  /**
   * Started on first use: commands that only touch the chain never start libp2p. `offers` is the
   * market's live offers (`/gridspot/offers/1`, validated, active providers only).
   */
  network(): Promise<{ host: GridspotHost; bids: BidCollector; offers: OfferBook }>;
  /** Providers' on-chain history (redemptions, early closes), read once and kept for the session. */
  reputation: ReputationReader;
  close(): Promise<void>;
};

/** Everything a submitter command needs: wallet, chain, deployment, local store, and (lazily) the p2p host. */
export async function createSubmitter(
  settings: SubmitterSettings,
  account: LocalAccount,
): Promise<Submitter> {
  const logger = createLogger("gridspot:client");
  await mkdir(settings.dataDir, { recursive: true, mode: 0o700 });
  // Read first: a broken policy file stops every command before the chain or the store is touched.
  const policy = await readSpendPolicy(settings.dataDir);
  const clients = await createChainClients({ rpcUrl: settings.rpcUrl, account });
  const deployment = await readDeployment(
    settings.deploymentsDir ?? defaultDeploymentsDir(),
    clients.chain.id,
  );
  const store = openSubmitterStore(join(settings.dataDir, "submitter.db"));
  // Jobs a stopped CLI left `running` end as `lost`, their channels freed for the next job.
  for (const jobId of settleOrphanedJobs(store)) {
    logger.warn("a job whose CLI stopped before it ended is marked lost", { jobId });
  }
  const isActiveProvider = createActiveProviderCheck({
    publicClient: clients.publicClient,
    registry: deployment.contracts.providerRegistry,
  });
  const reputation = createReputationReader({
    publicClient: clients.publicClient,
    escrow: deployment.contracts.computeEscrow,
    fromBlock: deployment.deployBlock,
  });
  let network: { host: GridspotHost; bids: BidCollector; offers: OfferBook; feed: OfferFeed } | undefined;

  return {
    dataDir: settings.dataDir,
    account,
    clients,
    deployment,
    store,
    logger,
    policy,
    reputation,
    async network() {
      if (network !== undefined) return network;
      const host = await createHost({
        privateKey: await loadOrCreatePeerKey(join(settings.dataDir, "peer.key")),
        listen: settings.listen ?? ["/ip4/127.0.0.1/tcp/0"],
        bootstrap: settings.bootstrap,
        localNetwork: settings.localNetwork ?? false,
        // A submitter comes and goes: a DHT client, so it never holds records others need.
        dhtServer: false,
      });
      // A submitter is in the orders mesh too (to publish): it checks what it would pass on, like a
      // provider does, so a forged or malformed order dies at the first honest peer.
      host.services.pubsub.topicValidators.set(
        ORDERS_TOPIC,
        envelopeTopicValidator({
          chainId: clients.chain.id,
          kind: "JobOrder",
          schema: jobOrder,
          signerField: "submitter",
        }),
      );
      host.services.pubsub.subscribe(ORDERS_TOPIC);
      const bids = createBidCollector({
        host,
        account,
        chainId: clients.chain.id,
        logger: logger.child("bid"),
        isActiveProvider,
      });
      await bids.start();
      const offers = new OfferBook();
      const feed = createOfferFeed({
        host,
        chainId: clients.chain.id,
        book: offers,
        logger: logger.child("offer"),
        isActiveProvider,
      });
      feed.start();
      network = { host, bids, offers, feed };
      return network;
    },
    async close() {
      reputation.stop();
      if (network !== undefined) {
        network.feed.stop();
        await network.bids.stop();
        await network.host.stop();
      }
      store.close();
    },
  };
}
