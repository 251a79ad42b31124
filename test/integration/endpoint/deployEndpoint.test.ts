// Endpoints end to end on real parts (DESIGN §12): anvil, two provider processes serving replicas of
// the tiny model server (process replicas: `endpoints.processReplicas`, so this runs without Docker;
// dockerReplica.test.ts runs the container path), and the payer agent's own code with its gateway
// on 127.0.0.1. Every request goes caller → gateway → libp2p → provider proxy → replica; every
// debit note is checked against the gateway's own count before its voucher is signed.
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { multiaddr } from "@multiformats/multiaddr";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentFiles } from "../../../marketplace/agent/agentFiles.ts";
import { buildAgentApp } from "../../../marketplace/agent/buildAgentApp.ts";
import { type Agent, createAgent } from "../../../marketplace/agent/createAgent.ts";
import type { AgentDeployRequest, AgentEndpointAnswer } from "../../../marketplace/agent/endpointRequests.ts";
import { currentOwner } from "../../../marketplace/client/processOwner.ts";
import { createGateway } from "../../../marketplace/endpoint/createGateway.ts";
import { createLogger } from "../../../marketplace/log/createLogger.ts";
import { createHost } from "../../../marketplace/p2p/createHost.ts";
import { type Run, runGridspot } from "../../support/runGridspot.ts";
import { createCleanups } from "../support/cleanups.ts";
import { GRID, type Market, startMarket } from "../support/market.ts";
import { GPU_CLASS, PRICES, startTestProvider, type TestProvider } from "../support/nodes.ts";
import { waitFor } from "../support/waitFor.ts";
import { MODEL_SERVER } from "./endpointRig.ts";
import { type Answer, complete, send } from "./httpClient.ts";

/** Per 1,000 requests and per 1,000 tokens, in base units. */
const REQUESTS_1K = GRID / 100n;
const TOKENS_1K = GRID / 1000n;

let market: Market;
const providers: TestProvider[] = [];
let agent: Agent;
const cleanups = createCleanups();

const providerConfig = {
  pricing: {
    gpuHour: { [GPU_CLASS]: PRICES.gpuHour.toString() },
    cpuCoreHour: PRICES.cpuCoreHour.toString(),
    memGiBHour: PRICES.memGiBHour.toString(),
    requests1k: REQUESTS_1K.toString(),
    tokens1k: TOKENS_1K.toString(),
  },
  endpoints: { processReplicas: true, meterToleranceMs: 1_000 },
};

let payerKey: `0x${string}`;
const payerDir = () => join(market.work, "payer");
/**
 * The payer agent's own code in this process, serving its control socket as `agent start` does
 * (pid file, socket in the data dir): the real `gridspot endpoint …` commands talk to it.
 */
let closeSocket: (() => Promise<void>) | undefined;
const startAgent = async (): Promise<Agent> => {
  await closeSocket?.();
  const started = await createAgent({
    settings: {
      dataDir: payerDir(),
      rpcUrl: market.rpcUrl,
      deploymentsDir: market.deploymentsDir,
      bootstrap: providers.map((p) => p.info.multiaddrs[0] ?? ""),
      localNetwork: true,
    },
    account: privateKeyToAccount(payerKey),
    logger: createLogger("gridspot:test:agent"),
    gatewayPort: 0,
  });
  const files = agentFiles(payerDir());
  await writeFile(files.pid, `${process.pid}\n${currentOwner()}\n`, { mode: 0o600 });
  const app = buildAgentApp(started);
  await rm(files.socket, { force: true });
  await app.listen({ path: files.socket });
  closeSocket = async () => {
    await app.close();
    await rm(files.pid, { force: true });
  };
  return started;
};
/** The real executable, as the payer whose agent runs in this process. */
const gridspot = (args: string[]): Promise<Run> =>
  runGridspot(args, {
    cwd: market.work,
    timeoutMs: 90_000,
    env: {
      HOME: market.work,
      GRIDSPOT_PRIVATE_KEY: payerKey,
      GRIDSPOT_RPC_URL: market.rpcUrl,
      GRIDSPOT_DEPLOYMENTS_DIR: market.deploymentsDir,
      GRIDSPOT_DATA_DIR: payerDir(),
      GRIDSPOT_LOCAL_NETWORK: "1",
    },
  });

beforeAll(async () => {
  market = await startMarket();
  cleanups.add(() => market.stop());
  for (let i = 0; i < 2; i++) {
    const provider = await startTestProvider(market, {
      config: providerConfig,
      env: { GRIDSPOT_LOG: "info" },
    });
    cleanups.add(() => provider.stop());
    providers.push(provider);
  }
  payerKey = (await market.fundAccount(20n * GRID)).key;
  agent = await startAgent();
  // The agent of the moment (a test restarts it).
  cleanups.add(async () => {
    await closeSocket?.();
    await agent.stop();
  });
}, 120_000);
afterAll(() => cleanups.run());

const deployRequest = (o: Partial<AgentDeployRequest> = {}): AgentDeployRequest => ({
  requirements: { gpuClass: GPU_CLASS, gpus: 1, cpuCores: 1, memMiB: 512, maxDurationS: 600 },
  minReplicas: 0,
  maxReplicas: 1,
  providers: 1,
  maxRates: [
    { meter: "gpu_ms", price: 5n * GRID, per: 3_600_000n },
    { meter: "requests", price: REQUESTS_1K * 2n, per: 1000n },
    { meter: "tokens", price: TOKENS_1K * 2n, per: 1000n },
  ],
  maxUsage: { requests: 1_000_000n, tokens: 1_000_000_000n },
  budget: GRID,
  spec: {
    command: process.execPath,
    args: [MODEL_SERVER, "--port", "{port}", "--host", "127.0.0.1"],
    env: {},
    outputs: [],
    endpoint: { port: 8000, idleTimeoutS: 1, coldStartTimeoutS: 30, healthPath: "/health" },
  },
  // Providers on this machine bid within milliseconds.
  bidWindowMs: 500,
  explain: true,
  maxSuspendedS: 60,
  ...o,
});

const view = (id: string) => agent.endpoints.view(id) as AgentEndpointAnswer;
const billed = (v: AgentEndpointAnswer, meter: string) =>
  v.jobs.reduce((s, j) => s + (j.billed[meter] ?? 0n), 0n);
const ask = (url: string, sleepMs: number, tokens: number): Promise<Answer> =>
  complete(url, { sleep_ms: sleepMs, tokens });

describe("an endpoint deployed through the payer agent", () => {
  it("serves through the gateway from two providers, bills each what it served as the gateway counted it, scales to zero and back, and ends on delete", async () => {
    const deployed = await agent.deploy(deployRequest({ providers: 2, budget: 2n * GRID }));
    expect(deployed.status).toBe("serving");
    expect(deployed.jobs).toHaveLength(2);
    expect(new Set(deployed.jobs.map((j) => j.provider)).size).toBe(2);
    const id = deployed.endpointId;

    // Ten requests of 200 ms, three at a time: both providers take some.
    const answers: Answer[] = [];
    for (let i = 0; i < 10; i += 2)
      answers.push(...(await Promise.all([ask(deployed.url, 200, 5), ask(deployed.url, 200, 5)])));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    const usage = JSON.parse(answers[0]?.body ?? "{}").usage;
    expect(usage.completion_tokens).toBe(5);

    // Every request is billed once, by the provider that served it, and the gateway counted the same.
    const settled = await waitFor(
      "notes for all ten requests",
      () => {
        const v = view(id);
        return billed(v, "requests") === 10n ? v : undefined;
      },
      { timeoutMs: 15_000 },
    );
    const tokensEach = BigInt(usage.total_tokens);
    expect(billed(settled, "tokens")).toBe(10n * tokensEach);
    for (const job of settled.jobs) {
      expect(job.billed.requests).toBe(job.counted.requests);
      expect(job.billed.tokens).toBe(job.counted.tokens);
      expect(job.routed).toBe(true);
    }
    // At ms granularity a busy period bills its own length: the five pairs, one after the other,
    // kept a replica busy at least 200 ms each; overlapping requests share a period.
    expect(billed(settled, "gpu_ms")).toBeGreaterThanOrEqual(5n * 200n);
    expect(billed(settled, "gpu_ms")).toBeLessThanOrEqual(10n * 300n);
    expect(settled.gateway.requests).toBe(10n);

    // Idle: the replicas stop after the idle timeout, and nothing more is billed meanwhile.
    const gpuBefore = billed(settled, "gpu_ms");
    await sleep(2_000);
    expect(billed(view(id), "gpu_ms")).toBe(gpuBefore);
    // The next request waits for a cold start on a new replica, and is answered.
    const replicasBefore = new Set(answers.map((a) => a.headers["x-replica"]));
    const cold = await ask(deployed.url, 0, 1);
    expect(cold.status).toBe(200);
    expect(replicasBefore.has(cold.headers["x-replica"])).toBe(false);

    // Deleted: both providers end it, every note paid; the gateway says so in words.
    expect(agent.endpoints.delete(id, "test done")).toBe(2);
    const ended = await waitFor("the endpoint to end", () => {
      const v = view(id);
      return v.status === "ended" ? v : undefined;
    });
    expect(ended.jobs.map((j) => j.status)).toEqual(["cancelled", "cancelled"]);
    const gone = await ask(deployed.url, 0, 1);
    expect(gone.status).toBe(410);
    expect(JSON.parse(gone.body).error.code).toBe("endpoint-deleted");
  });

  it("refuses a note that bills requests the gateway never sent, and routes no more requests to that provider", async () => {
    const deployed = await agent.deploy(deployRequest({ providers: 2 }));
    const id = deployed.endpointId;
    expect((await ask(deployed.url, 0, 1)).status).toBe(200);
    // Requests the payer's gateway never sent: another gateway on the same peer calls one provider.
    const cheat = deployed.jobs[0];
    if (cheat === undefined) throw new Error("no job");
    const { host } = await agent.submitter.network();
    const { peerIdFromString } = await import("@libp2p/peer-id");
    const side = createGateway({ host }, { port: 0 });
    const { url: sideUrl } = await side.start();
    cleanups.add(() => side.stop());
    side.addEndpoint({
      id,
      providers: [{ peerId: peerIdFromString(cheat.providerPeerId), remoteId: cheat.jobId }],
    });
    for (let i = 0; i < 3; i++) expect((await ask(`${sideUrl}/e/${id}`, 0, 1)).status).toBe(200);
    // Another peer altogether gets nothing from it: only the agreement's payer may call it.
    const strangerHost = await createHost({
      privateKey: await generateKeyPair("Ed25519"),
      listen: ["/ip4/127.0.0.1/tcp/0"],
      localNetwork: true,
      minConnections: 0,
    });
    cleanups.add(() => strangerHost.stop());
    const stranger = createGateway({ host: strangerHost }, { port: 0 });
    const { url: strangerUrl } = await stranger.start();
    cleanups.add(() => stranger.stop());
    const provider = providers.find((p) => p.address.toLowerCase() === cheat.provider.toLowerCase());
    stranger.addEndpoint({
      id,
      providers: [
        {
          peerId: peerIdFromString(cheat.providerPeerId),
          remoteId: cheat.jobId,
          addrs: (provider?.info.multiaddrs ?? []).map((a) => multiaddr(a)),
        },
      ],
    });
    const refusedCall = await ask(`${strangerUrl}/e/${id}`, 0, 1);
    expect(refusedCall.status).toBe(403);
    expect(refusedCall.headers["x-gridspot-error"]).toBe("forbidden");

    const refused = await waitFor(
      "the over-billing provider to be refused",
      () => view(id).jobs.find((j) => j.jobId === cheat.jobId && !j.routed),
      { timeoutMs: 15_000 },
    );
    expect(refused.reason).toMatch(/requests \d+ is more than this side counted/);
    // `endpoint status` and `list` say so, from the real CLI through the agent's socket.
    const status = await gridspot(["endpoint", "status", id]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(
      new RegExp(
        `Job ${cheat.jobId} running on ${cheat.provider}: .*not routed \\(requests \\d+ is more than this side counted`,
      ),
    );
    expect(status.stdout).toMatch(new RegExp(`Job ${deployed.jobs[1]?.jobId} running on .*, routed`));
    const list = await gridspot(["endpoint", "list"]);
    expect(list.stdout).toMatch(new RegExp(`^${id}\\s+serving\\s+1/2 routed`, "m"));
    const unknown = await gridspot(["endpoint", "status", "ep-nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("no endpoint ep-nope was deployed from this data dir");
    // From now on only the other provider serves it.
    const other = deployed.jobs[1]?.jobId;
    const before = view(id).jobs.find((j) => j.jobId === other)?.counted.requests ?? 0n;
    for (let i = 0; i < 4; i++) expect((await ask(deployed.url, 0, 1)).status).toBe(200);
    const after = view(id);
    expect(after.jobs.find((j) => j.jobId === other)?.counted.requests).toBe(before + 4n);
    // The refused provider may have ended the job already (no voucher past its grace period).
    const deleted = await gridspot(["endpoint", "delete", id]);
    expect(deleted.stdout).toMatch(new RegExp(`Endpoint ${id} deleted: [12] provider\\(s\\) told to stop`));
    const ended = await waitFor("the endpoint to end", () => {
      const v = view(id);
      return v.status === "ended" ? v : undefined;
    });
    expect(ended.jobs.find((j) => j.jobId === other)?.status).toBe("cancelled");
  });

  it("answers 402 with the reason once the endpoint's budget is spent", async () => {
    // Deployed with the real CLI: a plain command (process replicas on these providers). 1,000
    // tokens cost TOKENS_1K: a budget of a few such answers.
    const run = await gridspot([
      "endpoint",
      "deploy",
      "--gpus",
      "1",
      "--gpu-class",
      GPU_CLASS,
      "--max-replicas",
      "1",
      "--idle-timeout",
      "1s",
      "--max-duration",
      "600",
      "--max-price-gpu-hour",
      "5",
      "--max-price-1k-requests",
      "0.02",
      "--max-price-1k-tokens",
      "0.002",
      "--budget",
      "0.004",
      "--bid-window",
      "500",
      "--",
      process.execPath,
      MODEL_SERVER,
      "--port",
      "{port}",
      "--host",
      "127.0.0.1",
    ]);
    expect(run.code, run.stderr).toBe(0);
    const id = /^Endpoint (ep-\S+) serving at /.exec(run.stdout)?.[1] ?? "";
    expect(run.stdout).toContain("budget 0.004 GRID in all");
    const deployed = view(id);
    expect(deployed.jobs).toHaveLength(1);
    const statuses: number[] = [];
    const last = await waitFor(
      "the gateway to answer 402",
      async () => {
        const answer = await ask(deployed.url, 0, 1_000);
        statuses.push(answer.status);
        return answer.status === 402 ? answer : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(statuses[0]).toBe(200);
    expect(last.headers["x-gridspot-error"]).toBe("budget-reached");
    expect(JSON.parse(last.body).error.message).toMatch(/has spent its budget/);
    const ended = view(id);
    expect(ended.status).toBe("ended");
    // Paid exactly the budget, never more.
    expect(ended.jobs[0]?.amount).toBeLessThanOrEqual(4n * TOKENS_1K);
  });

  it("answers in words for a request body or a response over the limits", async () => {
    const deployed = await agent.deploy(deployRequest());
    const id = deployed.endpointId;
    const big = await send(`${deployed.url}/echo`, { method: "POST", body: Buffer.alloc(33 * 1024 * 1024) });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body).error.code).toBe("request-too-large");
    const huge = await send(`${deployed.url}/bytes?n=${300 * 1024 * 1024}`);
    expect(huge.status).toBe(502);
    expect(JSON.parse(huge.body).error.code).toBe("response-too-large");
    // Neither cost the endpoint its service.
    expect((await ask(deployed.url, 0, 1)).status).toBe(200);
    agent.endpoints.delete(id, "test done");
  });

  it("keeps serving when the agent restarts: the new one routes the endpoint again and accepts the notes that follow, counted on top of what was accepted before", async () => {
    const deployed = await agent.deploy(deployRequest({ maxSuspendedS: 60 }));
    const id = deployed.endpointId;
    for (let i = 0; i < 3; i++) expect((await ask(deployed.url, 50, 2)).status).toBe(200);
    await waitFor(
      "notes for three requests",
      () => (billed(view(id), "requests") === 3n ? true : undefined),
      {
        timeoutMs: 15_000,
      },
    );
    await agent.stop();
    agent = await startAgent();
    const again = view(id);
    expect(again.status).toBe("serving");
    expect(again.url).not.toBe(deployed.url);
    // The provider suspended it while no agent answered its notes; the new agent attaches, pays,
    // and it serves again.
    await waitFor(
      "the endpoint to answer through the new gateway",
      async () => ((await ask(again.url, 50, 2)).status === 200 ? true : undefined),
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    for (let i = 0; i < 2; i++) expect((await ask(again.url, 50, 2)).status).toBe(200);
    const settled = await waitFor(
      "notes for all six requests",
      () => {
        const v = view(id);
        return billed(v, "requests") === 6n ? v : undefined;
      },
      { timeoutMs: 15_000 },
    );
    expect(settled.jobs[0]?.routed).toBe(true);
    expect(settled.jobs[0]?.status).toBe("running");
    agent.endpoints.delete(id, "test done");
    await waitFor("the endpoint to end", () => (view(id).status === "ended" ? true : undefined));
  });

  it("quotes what an endpoint costs besides time, from the providers' offers", async () => {
    const quote = await gridspot([
      "market",
      "quote",
      "--gpus",
      "1",
      "--max-duration",
      "600",
      "--min-offers",
      "2",
      "--wait",
      "10",
      ...providers.flatMap((p) => ["--bootstrap", p.info.multiaddrs[0] ?? ""]),
    ]);
    expect(quote.code, quote.stderr).toBe(0);
    expect(quote.stdout).toMatch(
      /endpoints +0\.01 GRID per 1k requests; 0\.001 GRID per 1k tokens; busy time billed per busy period .*; --min-replicas warm replicas as allocated time; cold starts and idle replicas not billed/,
    );
  });

  it("costs only the requests in flight when a provider is killed mid-load", async () => {
    const deployed = await agent.deploy(deployRequest({ providers: 2, minReplicas: 1 }));
    const id = deployed.endpointId;
    const victim = providers.find(
      (p) => p.address.toLowerCase() === deployed.jobs[1]?.provider.toLowerCase(),
    );
    if (victim === undefined) throw new Error("no victim");
    const concurrency = 4;
    const results: { status: number; sentAt: number }[] = [];
    let stop = false;
    let killedAt = 0;
    const loop = async () => {
      while (!stop) {
        const sentAt = Date.now();
        const answer = await ask(deployed.url, 100, 1).catch(() => ({ status: 0 }) as Answer);
        results.push({ status: answer.status, sentAt });
      }
    };
    const loops = Array.from({ length: concurrency }, loop);
    await sleep(1_000);
    await victim.stop("SIGKILL");
    killedAt = Date.now();
    await sleep(2_000);
    stop = true;
    await Promise.all(loops);
    const failed = results.filter((r) => r.status !== 200);
    // At most the requests in flight at the kill fail; every one sent after it is answered.
    expect(failed.length).toBeLessThanOrEqual(concurrency);
    expect(failed.every((r) => r.sentAt <= killedAt)).toBe(true);
    expect(results.filter((r) => r.sentAt > killedAt + 100 && r.status === 200).length).toBeGreaterThan(4);
    agent.endpoints.delete(id, "test done");
  });
});
