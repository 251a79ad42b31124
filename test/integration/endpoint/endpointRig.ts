import { fileURLToPath } from "node:url";
import { generateKeyPair } from "@libp2p/crypto/keys";
import {
  type CreateGatewayParameters,
  createGateway,
  type Gateway,
  type GatewayRoute,
} from "../../../marketplace/endpoint/createGateway.ts";
import { createHost, type GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import {
  type CreateEndpointProxyParameters,
  createEndpointProxy,
  type EndpointProxy,
} from "../../../node/endpoint/createEndpointProxy.ts";
import { createProcessReplicaLauncher } from "../../../node/endpoint/createProcessReplicaLauncher.ts";
import {
  type CreateReplicaSetParameters,
  createReplicaSet,
  type ReplicaSet,
} from "../../../node/endpoint/createReplicaSet.ts";
import type { ProxyEndpoint } from "../../../node/endpoint/proxyEndpoint.ts";
import type { ReplicaLauncher } from "../../../node/endpoint/types.ts";

/** The tiny model server, run as a process replica on 127.0.0.1. */
export const MODEL_SERVER = fileURLToPath(new URL("../../../scripts/lib/modelServer.ts", import.meta.url));

export type EndpointRig = {
  /** `http://127.0.0.1:<port>/e/<endpoint>` */
  base: string;
  endpointId: string;
  gateway: Gateway;
  proxy: EndpointProxy;
  replicas: ReplicaSet;
  payer: GridspotHost;
  provider: GridspotHost;
  stop(): Promise<void>;
};

export type StartEndpointRigParameters = {
  endpointId?: string;
  replicas?: Partial<Omit<CreateReplicaSetParameters, "endpointId">>;
  endpoint?: Partial<Omit<ProxyEndpoint, "id" | "replicas">>;
  route?: Partial<Omit<GatewayRoute, "id" | "providers">>;
  gateway?: CreateGatewayParameters;
  proxy?: CreateEndpointProxyParameters;
  /** Replaces the model server's command (a replica that never becomes healthy, say). */
  command?: { command: string; args: string[] };
  /** Replaces the process launcher altogether (Docker replicas). */
  launcher?: ReplicaLauncher;
};

/**
 * A payer host with a gateway and a provider host with an endpoint proxy, connected over libp2p on
 * 127.0.0.1, serving one endpoint whose replicas are model-server processes.
 */
export async function startEndpointRig(p: StartEndpointRigParameters = {}): Promise<EndpointRig> {
  const endpointId = p.endpointId ?? "ep-test";
  const listen = ["/ip4/127.0.0.1/tcp/0"];
  const provider = await createHost({
    privateKey: await generateKeyPair("Ed25519"),
    listen,
    localNetwork: true,
    minConnections: 0,
  });
  const payer = await createHost({
    privateKey: await generateKeyPair("Ed25519"),
    listen,
    localNetwork: true,
    minConnections: 0,
  });
  const launcher =
    p.launcher ??
    createProcessReplicaLauncher(
      p.command ?? {
        command: process.execPath,
        args: [MODEL_SERVER, "--port", "{port}", "--host", "127.0.0.1"],
      },
    );
  const replicas = createReplicaSet(
    { launcher },
    { endpointId, min: 1, max: 1, idleTimeoutMs: 60_000, coldStartTimeoutMs: 15_000, ...p.replicas },
  );
  const proxy = createEndpointProxy({ host: provider }, p.proxy);
  await proxy.start();
  proxy.addEndpoint({ id: endpointId, replicas, ...p.endpoint });
  const gateway = createGateway({ host: payer }, { port: 0, ...p.gateway });
  const { url } = await gateway.start();
  gateway.addEndpoint({
    id: endpointId,
    providers: [{ peerId: provider.peerId, addrs: provider.getMultiaddrs() }],
    ...p.route,
  });
  return {
    base: `${url}/e/${endpointId}`,
    endpointId,
    gateway,
    proxy,
    replicas,
    payer,
    provider,
    async stop() {
      await gateway.stop();
      await proxy.stop();
      await payer.stop();
      await provider.stop();
    },
  };
}

/** Waits until `check` holds, polling every 20 ms, or fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
