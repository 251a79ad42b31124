// One side of the inference data plane as its own process, for the inference benchmark: started by
// the bench with `fork` and driven over the IPC channel.
//
//   node scripts/lib/inferenceNode.ts provider '<json: endpoints>'   a libp2p host, the endpoint
//        proxy, and per endpoint a replica set of model-server processes (scripts/lib/modelServer.ts),
//        or of containers of its image for an endpoint that names one
//   node scripts/lib/inferenceNode.ts gateway                         a libp2p host and the gateway
//
// Both send {type: "ready", …} once serving, then answer requests {id, type, …} with {id, …}.
import { fileURLToPath } from "node:url";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import Docker from "dockerode";
import { createGateway } from "../../marketplace/endpoint/createGateway.ts";
import { toJsonValue } from "../../marketplace/messages/json.ts";
import { createHost } from "../../marketplace/p2p/createHost.ts";
import { createEndpointProxy } from "../../node/endpoint/createEndpointProxy.ts";
import { createProcessReplicaLauncher } from "../../node/endpoint/createProcessReplicaLauncher.ts";
import { createReplicaSet, type ReplicaSet } from "../../node/endpoint/createReplicaSet.ts";
import { createDockerReplicaLauncher } from "../../node/endpoint/docker/createDockerReplicaLauncher.ts";

/** An endpoint the provider serves. */
export type InferenceNodeEndpoint = {
  id: string;
  min: number;
  max: number;
  idleTimeoutMs: number;
  concurrency?: number;
  /** Replicas as Docker containers of this image (the model server's), not processes. */
  image?: string;
};

/** The label the benchmark's containers carry (`gridspot.node`), to find any a crash left. */
export const BENCH_NODE_LABEL = "gridspot-bench";

type Request = { id: number; type: string; [key: string]: unknown };

const MODEL_SERVER = fileURLToPath(new URL("./modelServer.ts", import.meta.url));
const role = process.argv[2];
const send = (message: unknown) => process.send?.(toJsonValue(message));
const host = await createHost({
  privateKey: await generateKeyPair("Ed25519"),
  listen: ["/ip4/127.0.0.1/tcp/0"],
  localNetwork: true,
  minConnections: 0,
  abortConnectionOnPingFailure: false,
});

if (role === "provider") {
  const endpoints = JSON.parse(process.argv[3] ?? "[]") as InferenceNodeEndpoint[];
  const proxy = createEndpointProxy({ host });
  await proxy.start();
  const sets = new Map<string, ReplicaSet>();
  for (const endpoint of endpoints) {
    const launcher =
      endpoint.image === undefined
        ? createProcessReplicaLauncher({
            command: process.execPath,
            args: [MODEL_SERVER, "--port", "{port}", "--host", "127.0.0.1"],
          })
        : createDockerReplicaLauncher(
            { docker: new Docker() },
            {
              endpointId: endpoint.id,
              nodeLabel: BENCH_NODE_LABEL,
              image: endpoint.image,
              cpuCores: 1,
              memMiB: 256,
            },
          );
    const replicas = createReplicaSet({ launcher }, { endpointId: endpoint.id, ...endpoint });
    sets.set(endpoint.id, replicas);
    proxy.addEndpoint({ id: endpoint.id, replicas });
  }
  process.on("message", (message: Request) => {
    if (message.type === "usage") send({ id: message.id, usage: proxy.usage(message.endpoint as string) });
    if (message.type === "status")
      send({ id: message.id, status: sets.get(message.endpoint as string)?.status() });
    if (message.type === "cpu") send({ id: message.id, cpu: process.cpuUsage() });
    if (message.type === "stop")
      void proxy
        .stop()
        .then(() => host.stop())
        .then(() => process.exit(0));
  });
  send({ type: "ready", peerId: host.peerId.toString(), addrs: host.getMultiaddrs().map(String) });
} else if (role === "gateway") {
  const gateway = createGateway({ host }, { port: 0 });
  const { url } = await gateway.start();
  process.on("message", (message: Request) => {
    if (message.type === "route") {
      gateway.addEndpoint({
        id: message.endpoint as string,
        providers: [
          {
            peerId: peerIdFromString(message.peerId as string),
            addrs: (message.addrs as string[]).map((a) => multiaddr(a)),
          },
        ],
      });
      send({ id: message.id });
    }
    if (message.type === "usage") send({ id: message.id, usage: gateway.usage(message.endpoint as string) });
    if (message.type === "cpu") send({ id: message.id, cpu: process.cpuUsage() });
    if (message.type === "stop")
      void gateway
        .stop()
        .then(() => host.stop())
        .then(() => process.exit(0));
  });
  send({ type: "ready", url });
} else {
  process.stderr.write("usage: inferenceNode.ts provider '<endpoints json>' | gateway\n");
  process.exit(2);
}
