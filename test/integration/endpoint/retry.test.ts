import { generateKeyPair } from "@libp2p/crypto/keys";
import { afterEach, describe, expect, it } from "vitest";
import { createHost, type GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import { createEndpointProxy, type EndpointProxy } from "../../../node/endpoint/createEndpointProxy.ts";
import { createProcessReplicaLauncher } from "../../../node/endpoint/createProcessReplicaLauncher.ts";
import { createReplicaSet } from "../../../node/endpoint/createReplicaSet.ts";
import { type EndpointRig, MODEL_SERVER, startEndpointRig } from "./endpointRig.ts";
import { complete, send } from "./httpClient.ts";

// The gateway with two providers of one endpoint: a request one of them cannot take (it no longer
// serves the endpoint, or it vanished) goes to the other, and the failing one is tried last after.
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function secondProvider(rig: EndpointRig): Promise<{ host: GridspotHost; proxy: EndpointProxy }> {
  const host = await createHost({
    privateKey: await generateKeyPair("Ed25519"),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    localNetwork: true,
    minConnections: 0,
  });
  const proxy = createEndpointProxy({ host });
  await proxy.start();
  const replicas = createReplicaSet(
    {
      launcher: createProcessReplicaLauncher({
        command: process.execPath,
        args: [MODEL_SERVER, "--port", "{port}", "--host", "127.0.0.1"],
      }),
    },
    { endpointId: rig.endpointId, min: 1, max: 1, coldStartTimeoutMs: 15_000 },
  );
  proxy.addEndpoint({ id: rig.endpointId, replicas });
  stops.push(async () => {
    await proxy.stop();
    await host.stop();
  });
  rig.gateway.addEndpoint({
    id: rig.endpointId,
    providers: [
      { peerId: rig.provider.peerId, addrs: rig.provider.getMultiaddrs() },
      { peerId: host.peerId, addrs: host.getMultiaddrs() },
    ],
  });
  return { host, proxy };
}

async function rigWithTwo() {
  const rig = await startEndpointRig();
  stops.push(() => rig.stop());
  const second = await secondProvider(rig);
  // Both answer first (a replica each is ready).
  expect((await complete(rig.base, { sleep_ms: 0, tokens: 1 })).status).toBe(200);
  return { rig, second };
}

describe("the gateway's retries and provider health", () => {
  it("sends a request the first provider no longer serves to the other, counted there only", async () => {
    const { rig, second } = await rigWithTwo();
    await rig.proxy.removeEndpoint(rig.endpointId);
    const peerA = rig.provider.peerId.toString();
    const peerB = second.host.peerId.toString();
    const before = rig.gateway.providerUsage(rig.endpointId, peerB)?.requests ?? 0n;
    for (let i = 0; i < 3; i++)
      expect((await complete(rig.base, { sleep_ms: 0, tokens: 1 })).status).toBe(200);
    expect(rig.gateway.providerUsage(rig.endpointId, peerB)?.requests).toBe(before + 3n);
    // A answered none of them: only the first request, before it stopped serving (tried first).
    expect(rig.gateway.providerUsage(rig.endpointId, peerA)?.requests).toBe(1n);
    expect(second.proxy.usage(rig.endpointId)?.total.requests).toBe(before + 3n);
  });

  it("sends requests to the other provider once one vanishes, and loses none that had not reached it", async () => {
    const { rig } = await rigWithTwo();
    await rig.proxy.stop();
    await rig.provider.stop();
    const answers = await Promise.all([1, 2, 3, 4].map(() => complete(rig.base, { sleep_ms: 0, tokens: 1 })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
  });

  it("does not retry a streamed (chunked) body: the caller gets the first provider's answer in words", async () => {
    const rig = await startEndpointRig();
    stops.push(() => rig.stop());
    await secondProvider(rig);
    await rig.proxy.removeEndpoint(rig.endpointId);
    const answer = await send(`${rig.base}/echo`, {
      method: "POST",
      chunks: [Buffer.from("a"), Buffer.from("b")],
    });
    // Tried on the first provider only (both equal, in route order), whose words reach the caller.
    expect(answer.status).toBe(404);
    expect(answer.headers["x-gridspot-error"]).toBe("unknown-endpoint");
  });

  it("answers a closed endpoint's callers with its status and words", async () => {
    const rig = await startEndpointRig();
    stops.push(() => rig.stop());
    rig.gateway.addEndpoint({
      id: rig.endpointId,
      providers: [],
      closed: { status: 402, code: "budget-reached", message: "endpoint ep-test has spent its budget" },
    });
    const answer = await complete(rig.base, { sleep_ms: 0, tokens: 1 });
    expect(answer.status).toBe(402);
    expect(JSON.parse(answer.body).error).toEqual({
      code: "budget-reached",
      message: "endpoint ep-test has spent its budget",
      type: "gridspot",
    });
  });
});
