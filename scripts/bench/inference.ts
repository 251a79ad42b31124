// Inference benchmark: what the endpoint data plane (DESIGN §12) adds to a request, how many it
// carries, how long a cold start takes, and what it bills.
//
//   npm run bench:inference                  readable summary
//   npm run bench:inference -- --json        progress on stderr, one JSON object as the last stdout line
//   npm run bench:inference -- --runs 3 --requests 2000 --seconds 5 --concurrency 32
//
// Three processes besides this one (the client): a gateway (libp2p host + gateway), a provider
// (libp2p host + endpoint proxy) and its replicas, the tiny model server (scripts/lib/modelServer.ts)
// as process replicas (`"replica": "process"`: no container, so the figures are the data plane's,
// not Docker's). The client is a lean HTTP/1.1 keep-alive client (scripts/lib/keepAliveClient.ts,
// in the spirit of wrk), so that on a 2-core machine the load generator takes little of the CPU the
// gateway and the provider are measured on. Each run first warms every process up (2 s at full
// concurrency, then 500 requests one at a time), unmeasured. Each figure is the median over `--runs`
// runs; `gatewayCpuUsPerRequest` / `providerCpuUsPerRequest` are the CPU time (user + system) each
// process spent per request in the throughput window.
// - gatewayOverheadP50Ms / P99Ms: `--requests` small requests one at a time (sleep 0, 8 tokens),
//   alternating between the gateway (gateway + libp2p + proxy + replica) and the same replica called
//   directly; the percentile through the gateway minus the same percentile direct.
// - requestsPerSec: `--concurrency` callers for `--seconds`, small requests through the gateway.
// - coldStartP50Ms: an endpoint with min 0 and a 300 ms idle timeout; each try waits for it to be
//   at zero replicas, then times one request from sending to its first response byte. Where a
//   Docker Engine answers, its replicas are containers of the model server's image (built offline
//   when missing, present before the timing): `coldStartReplica` says which; the process replica's
//   figure is `processColdStartP50Ms` either way.
// - bill200ms: the example, a model answering each request in 200 ms called one at a time:
//   the provider's bill per request at ms, s and min granularity (gateway's in gatewayBill200ms).
// - billedOverMeasured: the provider's bill at `ms` for those requests over the busy time the client
//   measured calling the same replica directly with the same requests (what the replica was busy).
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Docker from "dockerode";
import { ensureModelServerImage } from "../lib/ensureModelServerImage.ts";
import type { InferenceNodeEndpoint } from "../lib/inferenceNode.ts";
import { createKeepAliveClient } from "../lib/keepAliveClient.ts";
import { median, percentile, round } from "./stats.ts";

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    runs: { type: "string", default: "3" },
    requests: { type: "string", default: "2000" },
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "32" },
    "cold-starts": { type: "string", default: "5" },
    "example-requests": { type: "string", default: "5" },
  },
});
const runs = Number(values.runs);
const requests = Number(values.requests);
const windowMs = Number(values.seconds) * 1000;
const concurrency = Number(values.concurrency);
const coldStarts = Number(values["cold-starts"]);
const exampleRequests = Number(values["example-requests"]);
const log = (m: string) => process.stderr.write(`bench:inference: ${m}\n`);

// --- the other processes --------------------------------------------------------------------------
type Node = {
  child: ReturnType<typeof fork>;
  ask(message: Record<string, unknown>): Promise<Record<string, unknown>>;
};
const NODE = fileURLToPath(new URL("../lib/inferenceNode.ts", import.meta.url));

async function startNode(args: string[]): Promise<{ node: Node; ready: Record<string, unknown> }> {
  const child = fork(NODE, args, {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    env: { ...process.env, GRIDSPOT_LOG: "warn" },
  });
  const pending = new Map<number, (reply: Record<string, unknown>) => void>();
  let seq = 0;
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`inferenceNode ${args[0]} exited with ${code}`)));
    child.on("message", (message: Record<string, unknown>) => {
      if (message.type === "ready") resolve(message);
      else pending.get(message.id as number)?.(message);
    });
  });
  const ask = (message: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve) => {
      seq += 1;
      pending.set(seq, resolve);
      child.send({ ...message, id: seq });
    });
  return { node: { child, ask }, ready };
}

// --- the client: one lean keep-alive connection per caller (scripts/lib/keepAliveClient.ts) -------
const SMALL_BODY = JSON.stringify({ sleep_ms: 0, tokens: 8 });
const COMPLETIONS = "/v1/chat/completions";
/** The tiny model server's image (see ensureModelServerImage), for container replicas. */
const MODEL_SERVER_IMAGE = "gridspot/model-server:local";
const WARM: InferenceNodeEndpoint = {
  id: "bench-warm",
  min: 1,
  max: 1,
  idleTimeoutMs: 600_000,
  concurrency: 256,
};
const COLD: InferenceNodeEndpoint = { id: "bench-cold", min: 0, max: 1, idleTimeoutMs: 300 };
/** Containers of the model server's image, where a Docker Engine answers (else undefined). */
const dockerImage = await (async () => {
  const docker = new Docker();
  const ping = await docker.ping().then(
    () => undefined,
    (error: Error) => error.message.split("\n")[0],
  );
  if (ping !== undefined) {
    log(`no Docker Engine (${ping}): cold starts of process replicas only`);
    return undefined;
  }
  return ensureModelServerImage(docker, MODEL_SERVER_IMAGE).then(
    () => MODEL_SERVER_IMAGE,
    (error: Error) => {
      log(`cannot build ${MODEL_SERVER_IMAGE} (${error.message.split("\n")[0]}): process replicas only`);
      return undefined;
    },
  );
})();
const COLD_DOCKER: InferenceNodeEndpoint | undefined =
  dockerImage === undefined
    ? undefined
    : { id: "bench-cold-docker", min: 0, max: 1, idleTimeoutMs: 300, image: dockerImage };

async function oneRun(run: number): Promise<Record<string, number | Record<string, number>>> {
  const served = [WARM, COLD, ...(COLD_DOCKER === undefined ? [] : [COLD_DOCKER])];
  const provider = await startNode(["provider", JSON.stringify(served)]);
  const gateway = await startNode(["gateway"]);
  const figures: Record<string, number | Record<string, number>> = {};
  try {
    for (const { id: endpoint } of served) {
      await gateway.node.ask({
        type: "route",
        endpoint,
        peerId: provider.ready.peerId,
        addrs: provider.ready.addrs,
      });
    }
    const gatewayUrl = `${gateway.ready.url as string}/e/${WARM.id}${COMPLETIONS}`;
    // The warm replica, and its address to call it directly.
    let address: { host: string; port: number } | undefined;
    for (let i = 0; address === undefined && i < 500; i += 1) {
      const status = (await provider.node.ask({ type: "status", endpoint: WARM.id })).status as {
        replicas: Array<{ state: string; address: { host: string; port: number } | null }>;
      };
      const ready = status.replicas.find((r) => r.state === "ready");
      if (ready?.address) address = ready.address;
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (address === undefined) throw new Error("the warm replica never became ready");
    const directUrl = `http://${address.host}:${address.port}${COMPLETIONS}`;

    // Warm-up, unmeasured: V8 compiles the hot paths of every process under load first (2 s at
    // full concurrency), then one at a time.
    const callers = await Promise.all(
      Array.from({ length: concurrency }, () => createKeepAliveClient(gatewayUrl)),
    );
    const load = async (ms: number) => {
      let ok = 0;
      let bad = 0;
      const until = performance.now() + ms;
      await Promise.all(
        callers.map(async (caller) => {
          while (performance.now() < until) {
            if ((await caller.post(SMALL_BODY)).status === 200) ok += 1;
            else bad += 1;
          }
        }),
      );
      return { ok, bad };
    };
    await load(2_000);
    const viaGatewayClient = await createKeepAliveClient(gatewayUrl);
    const directClient = await createKeepAliveClient(directUrl);
    for (let i = 0; i < 500; i += 1) {
      await viaGatewayClient.post(SMALL_BODY);
      await directClient.post(SMALL_BODY);
    }

    // Overhead: one at a time, alternating, each path on its own connection.
    const viaGateway: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < requests; i += 1) {
      viaGateway.push((await viaGatewayClient.post(SMALL_BODY)).totalMs);
      direct.push((await directClient.post(SMALL_BODY)).totalMs);
    }
    figures.directP50Ms = percentile(direct, 50);
    figures.gatewayP50Ms = percentile(viaGateway, 50);
    figures.gatewayOverheadP50Ms = percentile(viaGateway, 50) - percentile(direct, 50);
    figures.gatewayOverheadP99Ms = percentile(viaGateway, 99) - percentile(direct, 99);
    log(
      `run ${run}: overhead p50 ${round(figures.gatewayOverheadP50Ms as number)} ms, p99 ${round(figures.gatewayOverheadP99Ms as number)} ms`,
    );

    // Throughput, and the CPU time each side spends per request meanwhile.
    const cpu = async (node: Node) => {
      const { user, system } = (await node.ask({ type: "cpu" })).cpu as { user: number; system: number };
      return user + system;
    };
    const cpuBefore = { gateway: await cpu(gateway.node), provider: await cpu(provider.node) };
    const started = performance.now();
    const { ok: done, bad: failed } = await load(windowMs);
    figures.requestsPerSec = done / ((performance.now() - started) / 1000);
    figures.gatewayCpuUsPerRequest = ((await cpu(gateway.node)) - cpuBefore.gateway) / (done + failed);
    figures.providerCpuUsPerRequest = ((await cpu(provider.node)) - cpuBefore.provider) / (done + failed);
    for (const caller of callers) caller.close();
    if (failed > 0) log(`run ${run}: ${failed} requests failed under load`);
    log(`run ${run}: ${round(figures.requestsPerSec as number, 0)} requests/s at concurrency ${concurrency}`);

    // Cold starts: the connection to the gateway is open before the endpoint is at zero.
    const coldStartMs = async (endpoint: string) => {
      const coldUrl = `${gateway.ready.url as string}/e/${endpoint}${COMPLETIONS}`;
      const firstBytes: number[] = [];
      for (let i = 0; i < coldStarts; i += 1) {
        const caller = await createKeepAliveClient(coldUrl);
        for (;;) {
          const status = (await provider.node.ask({ type: "status", endpoint })).status as {
            replicas: unknown[];
          };
          if (status.replicas.length === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const answer = await caller.post(SMALL_BODY);
        caller.close();
        if (answer.status !== 200) throw new Error(`cold start answered ${answer.status}: ${answer.body}`);
        firstBytes.push(answer.firstByteMs);
      }
      return median(firstBytes);
    };
    figures.processColdStartP50Ms = await coldStartMs(COLD.id);
    log(`run ${run}: process replica cold start p50 ${round(figures.processColdStartP50Ms, 0)} ms`);
    if (COLD_DOCKER !== undefined) {
      figures.dockerColdStartP50Ms = await coldStartMs(COLD_DOCKER.id);
      log(`run ${run}: container replica cold start p50 ${round(figures.dockerColdStartP50Ms, 0)} ms`);
    }

    // The 200 ms example, through the gateway, then the same requests direct.
    const example = JSON.stringify({ sleep_ms: 200, tokens: 16 });
    const before = (await provider.node.ask({ type: "usage", endpoint: WARM.id })).usage as {
      gpuMs: Record<string, string>;
    };
    const gatewayBefore = (await gateway.node.ask({ type: "usage", endpoint: WARM.id })).usage as {
      billableMs: Record<string, string>;
    };
    for (let i = 0; i < exampleRequests; i += 1) await viaGatewayClient.post(example);
    const after = (await provider.node.ask({ type: "usage", endpoint: WARM.id })).usage as {
      gpuMs: Record<string, string>;
    };
    const gatewayAfter = (await gateway.node.ask({ type: "usage", endpoint: WARM.id })).usage as {
      billableMs: Record<string, string>;
    };
    let measured = 0;
    for (let i = 0; i < exampleRequests; i += 1) measured += (await directClient.post(example)).totalMs;
    const perRequest = (a: Record<string, string>, b: Record<string, string>, g: string) =>
      Number(BigInt(b[g] as string) - BigInt(a[g] as string)) / exampleRequests;
    const bill = {
      ms: perRequest(before.gpuMs, after.gpuMs, "ms"),
      s: perRequest(before.gpuMs, after.gpuMs, "s"),
      min: perRequest(before.gpuMs, after.gpuMs, "min"),
    };
    figures.bill200ms = bill;
    figures.gatewayBill200ms = {
      ms: perRequest(gatewayBefore.billableMs, gatewayAfter.billableMs, "ms"),
      s: perRequest(gatewayBefore.billableMs, gatewayAfter.billableMs, "s"),
      min: perRequest(gatewayBefore.billableMs, gatewayAfter.billableMs, "min"),
    };
    figures.billedOverMeasured = (bill.ms * exampleRequests) / measured;
    log(
      `run ${run}: 200 ms example billed ${JSON.stringify(figures.bill200ms)} per request, billed/measured ${round(figures.billedOverMeasured, 4)}`,
    );
    viaGatewayClient.close();
    directClient.close();
  } finally {
    for (const { node } of [gateway, provider]) {
      node.child.send({ type: "stop" });
      await new Promise<void>((resolve) => {
        const kill = setTimeout(() => node.child.kill("SIGKILL"), 5_000);
        node.child.once("exit", () => {
          clearTimeout(kill);
          resolve();
        });
      });
    }
  }
  return figures;
}

const all: Array<Record<string, number | Record<string, number>>> = [];
for (let run = 1; run <= runs; run += 1) all.push(await oneRun(run));
const med = (key: string) => median(all.map((f) => f[key] as number));
const medOf = (key: string, g: string) =>
  median(all.map((f) => (f[key] as Record<string, number>)[g] as number));
const figures = {
  replica: "process",
  runs,
  requests,
  concurrency,
  directP50Ms: round(med("directP50Ms"), 3),
  gatewayP50Ms: round(med("gatewayP50Ms"), 3),
  gatewayOverheadP50Ms: round(med("gatewayOverheadP50Ms"), 3),
  gatewayOverheadP99Ms: round(med("gatewayOverheadP99Ms"), 3),
  requestsPerSec: round(med("requestsPerSec"), 0),
  gatewayCpuUsPerRequest: round(med("gatewayCpuUsPerRequest"), 0),
  providerCpuUsPerRequest: round(med("providerCpuUsPerRequest"), 0),
  coldStartReplica: COLD_DOCKER === undefined ? "process" : "docker",
  coldStartP50Ms: round(med(COLD_DOCKER === undefined ? "processColdStartP50Ms" : "dockerColdStartP50Ms"), 1),
  processColdStartP50Ms: round(med("processColdStartP50Ms"), 1),
  dockerColdStartP50Ms: COLD_DOCKER === undefined ? null : round(med("dockerColdStartP50Ms"), 1),
  billedOverMeasured: round(med("billedOverMeasured"), 4),
  bill200msMs: medOf("bill200ms", "ms"),
  bill200msS: medOf("bill200ms", "s"),
  bill200msMin: medOf("bill200ms", "min"),
  gatewayBill200ms: {
    ms: medOf("gatewayBill200ms", "ms"),
    s: medOf("gatewayBill200ms", "s"),
    min: medOf("gatewayBill200ms", "min"),
  },
};
if (values.json) {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
} else {
  for (const [key, value] of Object.entries(figures))
    process.stdout.write(
      `${key.padEnd(24)} ${typeof value === "object" ? JSON.stringify(value) : String(value)}\n`,
    );
}
