import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import Docker from "dockerode";
import type { LocalAccount } from "viem";
import { registerProvider } from "../marketplace/chain/actions/registerProvider.ts";
import { providerRegistryAbi } from "../marketplace/chain/artifacts.generated.ts";
import { createChainClients } from "../marketplace/chain/clients.ts";
import { defaultDeploymentsDir } from "../marketplace/chain/defaultDeploymentsDir.ts";
import type { Deployment } from "../marketplace/chain/deployment.ts";
import { readDeployment } from "../marketplace/chain/deployments.ts";
import { BaseError } from "../marketplace/errors/base.ts";
import { createLogger, type Logger } from "../marketplace/log/createLogger.ts";
import { createHost, type GridspotHost } from "../marketplace/p2p/createHost.ts";
import { loadOrCreatePeerKey } from "../marketplace/p2p/peerKey.ts";
import { buildApp } from "./api/buildApp.ts";
import { createBidEngine } from "./bid/bidEngine.ts";
import { Capacity } from "./bid/capacity.ts";
import type { ProviderConfig } from "./config/providerConfig.ts";
import { takeSecretsFromEnv } from "./config/takeSecretsFromEnv.ts";
import { createEndpointProxy } from "./endpoint/createEndpointProxy.ts";
import { cleanupReplicaOrphans } from "./endpoint/docker/cleanupReplicaOrphans.ts";
import { createDockerReplicaLauncher } from "./endpoint/docker/createDockerReplicaLauncher.ts";
import { pickEndpointRuntime } from "./endpoint/pickEndpointRuntime.ts";
import type { DockerReplicaOptions, EndpointServing } from "./endpoint/startEndpointJob.ts";
import { createJobService } from "./job/jobService.ts";
import { createAdvertiser } from "./offer/advertiser.ts";
import { createPricingEngine } from "./pricing/createPricingEngine.ts";
import { endpointRates, ratesForJob } from "./pricing/rates.ts";
import { createGpuUsageReader } from "./resources/createGpuUsageReader.ts";
import { gpuPreflight } from "./resources/gpuPreflight.ts";
import { createJobRuntimes, type JobRuntimes } from "./run/createJobRuntimes.ts";
import { dockerGpuSupport } from "./run/docker/dockerGpuSupport.ts";
import { imagePolicyFromConfig } from "./run/docker/imagePolicyFromConfig.ts";
import { createRedemptionQueue } from "./settle/createRedemptionQueue.ts";
import { reconcile } from "./settle/reconcile.ts";
import { createChannelWatcher } from "./settle/watchChannels.ts";
import { finishJob, interruptedJobs, listJobs } from "./store/jobRecords.ts";
import { openProviderStore } from "./store/openProviderStore.ts";

export type ProviderNode = {
  address: `0x${string}`;
  peerId: string;
  multiaddrs: string[];
  apiUrl: string | undefined;
  host: GridspotHost;
  deployment: Deployment;
  redeem: () => Promise<unknown>;
  stop: () => Promise<void>;
};

export class ProviderStartError extends BaseError {
  override name = "ProviderStartError";
}

/**
 * Starts a provider node: ledger, chain clients, registration, libp2p host, offer advertiser, bid
 * engine, job service, redeemer and operator API. Jobs a previous run left unfinished (crash,
 * SIGKILL) are marked failed, and their newest vouchers are redeemed.
 */
export async function startProvider(
  config: ProviderConfig,
  account: LocalAccount,
  logger: Logger = createLogger("gridspot:node"),
): Promise<ProviderNode> {
  // The account is open: from here on the secrets live in memory only, never in the environment
  // that processes started by this node inherit.
  const { adminToken } = takeSecretsFromEnv();
  // usage billing: the GPU preflight, first, so a misconfigured machine fails before anything
  // else happens. It checks driver, CUDA version and GPUs and fails the start when GPUs are
  // configured and nvidia-smi is missing, broken or finds fewer; it is logged and in GET /v1/status.
  const { resources, preflight } = await gpuPreflight({
    nvidiaSmiPath: config.runtime.nvidiaSmi,
    requireGpus: config.runtime.requireGpus,
    expectGpus: config.runtime.expectGpus,
  });
  logger.info("GPU preflight", {
    state: preflight.state,
    driver: preflight.driverVersion ?? "-",
    cuda: preflight.cudaVersion ?? "-",
    gpus: preflight.gpuCount,
    classes: preflight.classes,
  });
  // The runtimes next, failing closed: no Docker Engine and no working sandbox means no start
  // (unless the operator explicitly said `runtime.sandbox: "none"`).
  let runtimes: JobRuntimes;
  try {
    runtimes = await createJobRuntimes(
      { nodeLabel: account.address, onWarning: (message) => logger.warn(message) },
      config.runtime,
    );
  } catch (error) {
    throw new ProviderStartError("No safe way to run jobs on this host", {
      details: (error as Error).message,
      cause: error,
    });
  }
  const runtimeStatus = runtimes.status();
  logger.info("job runtimes", {
    runtimes: runtimeStatus.runtimes.map((r) => `${r.kind}: ${r.description}, limits ${r.limits}`).join("; "),
  });
  for (const note of runtimeStatus.notes) logger.warn(note);
  // Containers and cgroups a crashed run left behind go before any capacity is offered again.
  const orphans = await runtimes.cleanupOrphans();
  if (orphans > 0) logger.warn("removed what an earlier run left behind", { orphans });
  // So do the endpoint replicas (containers and their networks) a crashed run left.
  const docker =
    runtimes.docker === undefined ? undefined : new Docker({ socketPath: config.runtime.docker.socketPath });
  if (docker !== undefined) {
    const replicaOrphans = await cleanupReplicaOrphans(docker, account.address).catch((error: Error) => {
      logger.warn("endpoint replicas left by an earlier run not removed", { error: error.message });
      return 0;
    });
    if (replicaOrphans > 0) logger.warn("removed endpoint replicas an earlier run left", { replicaOrphans });
  }
  // GPUs are offered only where a runtime can hand them to jobs (Docker needs the NVIDIA Container
  // Toolkit or CDI specs); otherwise the node offers its CPUs and says why.
  const gpuReach = runtimes.gpus();
  const offerGpus = resources.gpus.length === 0 || gpuReach.usable;
  if (!offerGpus) {
    const why = `GPUs not offered: ${gpuReach.reason ?? "no runtime can give them to jobs"}`;
    if (config.runtime.requireGpus) {
      runtimes.stop();
      throw new ProviderStartError("runtime.requireGpus is set, but jobs cannot use this host's GPUs", {
        details: `${why}. Install the NVIDIA Container Toolkit (see the README) or use runtime.kind "process".`,
      });
    }
    logger.warn(why);
  }

  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const store = openProviderStore(join(config.dataDir, "provider.db"));
  const clients = await createChainClients({ rpcUrl: config.rpcUrl, account });
  const chainId = clients.chain.id;
  const deployment = await readDeployment(config.deploymentsDir ?? defaultDeploymentsDir(), chainId);
  const { computeEscrow: escrow, providerRegistry: registry, computeToken: token } = deployment.contracts;

  for (const job of interruptedJobs(store)) {
    finishJob(store, job.jobId, {
      status: "failed",
      exitCode: null,
      reason: "the provider stopped during the job",
      reasonCode: "provider-restart",
      endedAt: Date.now(),
    });
    logger.warn("job interrupted by a restart", { jobId: job.jobId });
  }

  const gpus = offerGpus
    ? resources.gpus.map((g) => ({ index: g.index, class: g.class, vramMiB: g.vramMiB }))
    : [];
  const capacityTotals = {
    gpus,
    cpuCores: config.limits.cpuCores ?? resources.cpuCores,
    memMiB: config.limits.memMiB ?? resources.memMiB,
    maxDurationS: config.limits.maxDurationS,
  };

  const privateKey = await loadOrCreatePeerKey(join(config.dataDir, "peer.key"));
  const host = await createHost({
    privateKey,
    listen: config.p2p.listen,
    bootstrap: config.p2p.bootstrap,
    localNetwork: config.p2p.localNetwork,
  });
  const peerId = host.peerId.toString();
  await ensureRegistered();
  // Endpoints (DESIGN §12): one proxy on the node's host serves every endpoint agreement's replicas.
  const endpointProxy = createEndpointProxy({ host, logger: logger.child("endpoint") });
  const endpoints: EndpointServing = {
    proxy: endpointProxy,
    processReplicas: config.endpoints.processReplicas,
    dockerLauncher:
      docker === undefined ? undefined : await dockerReplicaLauncher(docker, config, account.address),
  };
  if (config.endpoints.processReplicas) {
    logger.warn(
      "endpoints.processReplicas is on: plain-command endpoints run as local processes WITHOUT isolation (development only)",
    );
  }

  const gpuHour: Record<string, bigint> = {};
  for (const gpu of gpus)
    gpuHour[gpu.class] = config.pricing.gpuHour[gpu.class] ?? config.pricing.defaultGpuHour;
  const addrs = () => host.getMultiaddrs().map((a) => a.toString());

  let advertiser: ReturnType<typeof createAdvertiser> | undefined;
  // Capacity and prices call each other back: both exist before either fires (first reserve, first epoch).
  let pricing: ReturnType<typeof createPricingEngine> | undefined;
  const capacity = new Capacity(capacityTotals, {
    onChange: () => {
      pricing?.observe();
      advertiser?.changed();
    },
  });
  pricing = createPricingEngine(
    {
      utilization: () => capacity.utilization(),
      logger: logger.child("pricing"),
      onChange: () => advertiser?.changed(),
    },
    {
      fixed: { gpuHour, cpuCoreHour: config.pricing.cpuCoreHour, memGiBHour: config.pricing.memGiBHour },
      dynamic: config.pricing.dynamic,
    },
  );
  const prices = pricing;
  const rates = () => prices.rates();
  advertiser = createAdvertiser({
    host,
    account,
    chainId,
    capacity,
    logger: logger.child("offer"),
    rates,
    addrs,
    billing: () => ({
      granularity: config.receipts.granularity,
      minimumCharge: config.pricing.minimumCharge,
    }),
    // A node serves endpoints where it can run their replicas: containers, or (development) processes.
    endpoints: () =>
      endpoints.dockerLauncher === undefined && !endpoints.processReplicas
        ? undefined
        : {
            rates: endpointRates({
              requests1k: config.pricing.requests1k,
              tokens1k: config.pricing.tokens1k,
            }),
            meterToleranceMs: config.endpoints.meterToleranceMs,
          },
  });
  const bidEngine = createBidEngine(
    {
      host,
      account,
      chainId,
      escrow,
      capacity,
      logger: logger.child("bid"),
      signals: { turnedAway: prices.turnedAway, lostOnPrice: prices.lostOnPrice },
      terms: () => ({
        provider: account.address,
        peerId,
        addrs: addrs(),
        rates: rates(),
        granularity: config.receipts.granularity,
        receiptIntervalMs: config.receipts.intervalMs,
        bidValidityS: 60,
        minimumCharge: config.pricing.minimumCharge,
        spotCeilings: config.pricing.spot ? prices.ceilingRates() : undefined,
        refuseImage: (image, gpus) => {
          const picked = runtimes.pick({ image, gpus });
          return typeof picked === "string" ? picked : undefined;
        },
        endpoint: {
          meterToleranceMs: config.endpoints.meterToleranceMs,
          rates: endpointRates(config.pricing),
          refuse: (image, gpusPerReplica) => {
            const picked = pickEndpointRuntime(runtimes, { image, gpusPerReplica }, config.endpoints);
            return typeof picked === "string" ? picked : undefined;
          },
        },
      }),
    },
    {
      holdMs: config.limits.holdMs,
      graceIntervals: config.receipts.graceIntervals,
      maxSuspendedS: config.limits.maxSuspendedS,
    },
  );
  // Settlement that nothing loses: a persistent queue, retried while the chain is away, counted
  // after `redeem.confirmations`, re-checked against the chain after a restart or a reorg.
  const redeemer = createRedemptionQueue(
    {
      store,
      publicClient: clients.publicClient,
      walletClient: clients.walletClient,
      escrow,
      fromBlock: deployment.deployBlock,
      logger: logger.child("settle"),
    },
    { confirmations: config.redeem.confirmations },
  );
  const redeemQuietly = () =>
    redeemer
      .redeem()
      .catch((error: Error) => logger.error("redeem failed", { error: error.message.split("\n")[0] }));
  const jobService = createJobService(
    {
      host,
      store,
      account,
      chainId,
      publicClient: clients.publicClient,
      capacity,
      bidEngine,
      logger: logger.child("job"),
      runtimes,
      endpoints,
      gpuUuid: (index) => resources.gpus.find((g) => g.index === index)?.uuid ?? String(index),
      onJobEnd: () => {
        if (config.redeem.onJobEnd) void redeemQuietly();
      },
    },
    {
      workRoot: join(config.dataDir, "jobs"),
      meterIntervalMs: config.runtime.meterIntervalMs,
      limits: { pids: config.runtime.pidsLimit, diskBytes: config.runtime.diskMiB * 1024 * 1024 },
      keepWorkDirs: config.runtime.keepWorkDirs,
      finalVoucherWaitMs: Math.max(3_000, 2 * config.receipts.intervalMs),
      maxInputBytes: config.limits.maxInputBytes,
      maxOutputBytes: config.limits.maxOutputBytes,
      // usage billing: GPU utilization and memory are metered through nvidia-smi when it found GPUs,
      // one reading per interval shared by all GPU jobs.
      readGpuUsage:
        preflight.state === "ok"
          ? createGpuUsageReader({
              nvidiaSmiPath: config.runtime.nvidiaSmi,
              maxAgeMs: config.runtime.meterIntervalMs / 2,
            })
          : undefined,
      // Spot agreements bill each note at the node's current price for the job's class.
      spotRates: (agreement) => ratesForJob(prices.rates(), agreement.gpuClass),
    },
  );

  // A payer asking to close a channel mid-job: redeem the newest voucher at once, stop the job.
  const channelWatcher = createChannelWatcher(
    { publicClient: clients.publicClient, escrow, logger: logger.child("settle") },
    {
      fromBlock: await clients.publicClient.getBlockNumber(),
      channels: () => jobService.runningChannels(),
      onCloseRequested: (channelId) => {
        void redeemQuietly();
        jobService.stopOnChannel(channelId, `the payer asked to close channel ${channelId} on-chain`);
      },
    },
  );

  await endpointProxy.start();
  await jobService.start();
  bidEngine.start();
  advertiser.start();
  prices.start();
  redeemer.start();
  channelWatcher.start();
  void redeemQuietly();

  let apiUrl: string | undefined;
  const app =
    config.api.port === null
      ? undefined
      : buildApp({
          store,
          adminToken,
          redeem: () => redeemer.redeem(),
          reconcile: () => reconcile(store, { publicClient: clients.publicClient, escrow }),
          status: () => ({
            provider: account.address,
            peerId,
            chainId,
            addrs: addrs(),
            resources: capacityTotals,
            gpu: { ...preflight, offered: offerGpus, ...(offerGpus ? {} : { reason: gpuReach.reason }) },
            runtime: runtimes.status(),
            runningJobs: jobService.runningJobs(),
            jobs: listJobs(store, 1000).length,
            rates: rates(),
            pricing: prices.status(),
          }),
        });
  if (app !== undefined && config.api.port !== null) {
    apiUrl = await app.listen({ host: config.api.host, port: config.api.port });
  }
  logger.info("provider started", {
    address: account.address,
    peerId,
    api: apiUrl ?? "off",
    gpus: gpus.length,
  });

  async function ensureRegistered(): Promise<void> {
    const active = await clients.publicClient.readContract({
      address: registry,
      abi: providerRegistryAbi,
      functionName: "isActive",
      args: [account.address],
    });
    if (active) return;
    const record = await clients.publicClient.readContract({
      address: registry,
      abi: providerRegistryAbi,
      functionName: "getProvider",
      args: [account.address],
    });
    if (record.registeredAt !== 0n) {
      throw new ProviderStartError("This provider is registered but its stake is below the minimum", {
        details: "Add stake with `gridspot provider stake`.",
      });
    }
    const minStake = await clients.publicClient.readContract({
      address: registry,
      abi: providerRegistryAbi,
      functionName: "minStake",
    });
    const stake = config.stake ?? minStake;
    await registerProvider(clients, { registry, token, peerId, metadata: "", stake });
    logger.info("registered in the provider registry", { stake });
  }

  return {
    address: account.address,
    peerId,
    multiaddrs: addrs(),
    apiUrl,
    host,
    deployment,
    redeem: () => redeemer.redeem(),
    async stop() {
      advertiser?.stop();
      prices.stop();
      bidEngine.stop();
      channelWatcher.stop();
      await jobService.stop();
      await endpointProxy.stop();
      await redeemer.stop();
      runtimes.stop();
      await app?.close();
      await host.stop();
      store.close();
    },
  };
}

/**
 * The node's launcher of endpoint replicas in Docker: each replica a container of the endpoint's
 * image, locked down like a job's (the operator's user, pids and tmpfs limits and image policy; the
 * GPUs reach it as they reach jobs), with its share of the agreement's cores, memory and GPUs.
 */
async function dockerReplicaLauncher(
  docker: Docker,
  config: ProviderConfig,
  nodeLabel: string,
): Promise<(p: DockerReplicaOptions) => ReturnType<typeof createDockerReplicaLauncher>> {
  const { gpuMode } = config.runtime.docker;
  const mode = gpuMode === "auto" ? (await dockerGpuSupport(docker)).mode : gpuMode;
  const imagePolicy = imagePolicyFromConfig(config.runtime.docker);
  return (p) =>
    createDockerReplicaLauncher(
      { docker },
      {
        endpointId: p.endpointId,
        nodeLabel,
        image: p.image,
        port: p.spec.endpoint.port,
        ...(p.spec.entrypoint === undefined ? {} : { entrypoint: p.spec.entrypoint }),
        command: p.spec.command,
        args: p.spec.args,
        env: p.spec.env,
        user: config.runtime.user,
        cpuCores: p.share.cpuCores,
        memMiB: p.share.memMiB,
        pids: config.runtime.pidsLimit,
        tmpfsMiB: config.runtime.docker.tmpfsMiB,
        gpuMode: mode,
        gpuUuids: p.gpuUuids,
        imagePolicy,
      },
    );
}
