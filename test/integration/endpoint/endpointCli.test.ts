// An endpoint as a user runs it (issue 12): the real `gridspot` executable (`agent start`,
// `endpoint deploy|status|verify|delete`), anvil, a provider process with the Docker runtime serving
// replicas as containers of the locally built model-server image, and plain HTTP to the agent's
// gateway. It scales to zero and back, is billed per request as counted, verified, and leaves no
// container behind.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runningAgent } from "../../../marketplace/agent/agentFiles.ts";
import { ENDPOINT_LABEL } from "../../../node/endpoint/docker/constants.ts";
import { ensureModelServerImage } from "../../../scripts/lib/ensureModelServerImage.ts";
import { DOCKER_SOCKET, dockerMissing, skipWhen } from "../../support/requires.ts";
import { type Run, runGridspot } from "../../support/runGridspot.ts";
import { createCleanups } from "../support/cleanups.ts";
import { GRID, type Market, startMarket } from "../support/market.ts";
import { PRICES, startTestProvider, type TestProvider } from "../support/nodes.ts";
import { killProcessesWith } from "../support/processesIn.ts";
import { waitFor } from "../support/waitFor.ts";
import { complete } from "./httpClient.ts";

const IMAGE = "gridspot/model-server:local";
const notRoot =
  process.getuid?.() !== 0 ? "container replicas need a root provider (as container jobs do)" : undefined;
skipWhen(dockerMissing ?? notRoot);

const docker = new Docker({ socketPath: DOCKER_SOCKET });
let market: Market;
let provider: TestProvider;
const cleanups = createCleanups();

let gridspot: (args: string[]) => Promise<Run>;
let dataDir: string;

beforeAll(async () => {
  if (dockerMissing !== undefined || notRoot !== undefined) return;
  await ensureModelServerImage(docker, IMAGE);
  market = await startMarket();
  cleanups.add(() => market.stop());
  provider = await startTestProvider(market, {
    config: {
      runtime: { kind: "docker", meterIntervalMs: 100 },
      pricing: {
        cpuCoreHour: PRICES.cpuCoreHour.toString(),
        memGiBHour: PRICES.memGiBHour.toString(),
        requests1k: (GRID / 100n).toString(),
        tokens1k: (GRID / 1000n).toString(),
      },
    },
  });
  cleanups.add(() => provider.stop());
  const { key } = await market.fundAccount(10n * GRID);
  dataDir = join(market.work, "payer");
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: market.work,
    GRIDSPOT_PRIVATE_KEY: key,
    GRIDSPOT_RPC_URL: market.rpcUrl,
    GRIDSPOT_DEPLOYMENTS_DIR: market.deploymentsDir,
    GRIDSPOT_DATA_DIR: dataDir,
    GRIDSPOT_BOOTSTRAP: provider.info.multiaddrs[0] ?? "",
    GRIDSPOT_LOCAL_NETWORK: "1",
    GRIDSPOT_GATEWAY_PORT: "0",
  };
  gridspot = (args) => runGridspot(args, { cwd: market.work, timeoutMs: 90_000, env });
  cleanups.add(async () => {
    const agent = runningAgent(dataDir);
    if (agent !== undefined) process.kill(agent.pid, "SIGKILL");
    killProcessesWith(["agent", "start", "--foreground", dataDir]);
  });
}, 120_000);
afterAll(() => cleanups.run());

const json = (run: Run) => {
  if (run.code !== 0) throw new Error(`exit ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "");
};
const replicaContainers = (jobId: string) =>
  docker.listContainers({ all: true, filters: { label: [`${ENDPOINT_LABEL}=${jobId}`] } });

describe("gridspot endpoint, on Docker", () => {
  it("deploys from the CLI, serves through the gateway, scales to zero and back, bills per request, verifies, and deletes", async () => {
    const agent = json(await gridspot(["agent", "start", "--json"]));
    expect(agent.gatewayUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const deployed = json(
      await gridspot([
        "endpoint",
        "deploy",
        "--json",
        "--image",
        IMAGE,
        "--port",
        "8000",
        "--cpus",
        "1",
        "--mem",
        "256",
        "--min-replicas",
        "0",
        "--max-replicas",
        "1",
        "--idle-timeout",
        "2s",
        "--max-price-1k-requests",
        "0.02",
        "--max-price-1k-tokens",
        "0.002",
        "--budget",
        "1",
        "--bid-window",
        "1000",
        "--explain",
        "--max-duration",
        "600",
        "--",
        "--port",
        "8000",
        "--host",
        "0.0.0.0",
      ]),
    );
    const id: string = deployed.endpointId;
    const jobId: string = deployed.jobs[0].jobId;
    expect(deployed.url).toBe(`${agent.gatewayUrl}/e/${id}`);

    // The first request waits for the first container (a cold start) and is answered.
    const first = await complete(deployed.url, { sleep_ms: 50, tokens: 4 });
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body).usage.completion_tokens).toBe(4);
    const [firstReplica] = await replicaContainers(jobId);
    expect(firstReplica).toBeDefined();
    // Idle past the timeout: the container is stopped and removed; the next request starts another.
    await waitFor(
      "the replica to scale to zero",
      async () => ((await replicaContainers(jobId)).length === 0 ? true : undefined),
      { timeoutMs: 15_000, intervalMs: 200 },
    );
    const second = await complete(deployed.url, { sleep_ms: 50, tokens: 4 });
    expect(second.status).toBe(200);
    const [secondReplica] = await replicaContainers(jobId);
    expect(secondReplica?.Id).toBeDefined();
    expect(secondReplica?.Id).not.toBe(firstReplica?.Id);

    // Billed per request, as the gateway counted: two requests, their tokens, their busy CPU time.
    const status = await waitFor(
      "the notes for both requests",
      async () => {
        const s = json(await gridspot(["endpoint", "status", id, "--json"]));
        return s.jobs[0].billed.requests === "2" ? s : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 300 },
    );
    const job = status.jobs[0];
    expect(job.billed.tokens).toBe(job.counted.tokens);
    expect(BigInt(job.billed.cpu_core_ms)).toBeGreaterThanOrEqual(100n);
    expect(job.billed.gpu_ms ?? "0").toBe("0");

    expect((await gridspot(["endpoint", "delete", id])).code).toBe(0);
    await waitFor(
      "the endpoint to end",
      async () =>
        json(await gridspot(["endpoint", "status", id, "--json"])).status === "ended" ? true : undefined,
      { timeoutMs: 20_000, intervalMs: 300 },
    );
    expect(await replicaContainers(jobId)).toHaveLength(0);
    const gone = await complete(deployed.url, { sleep_ms: 0, tokens: 1 });
    expect(gone.status).toBe(410);
    await sleep(100);
    const verified = await gridspot(["endpoint", "verify", id]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect((await gridspot(["agent", "stop"])).code).toBe(0);
  });
});
