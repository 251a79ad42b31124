import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EndpointRig, startEndpointRig, waitFor } from "./endpointRig.ts";
import { complete, send } from "./httpClient.ts";

// Gateway → libp2p → proxy → model server (a process replica) and back, on real parts.
let rig: EndpointRig;
let gatewayUrl: string;

beforeAll(async () => {
  rig = await startEndpointRig({
    endpoint: { maxRequestBodyBytes: 64 * 1024, maxResponseBodyBytes: 100_000 },
    route: { maxRequestBodyBytes: 1024 * 1024 },
  });
  gatewayUrl = rig.base.slice(0, rig.base.indexOf("/e/"));
  await waitFor(
    () => rig.replicas.status().replicas.some((r) => r.state === "ready"),
    10_000,
    "a ready replica",
  );
});

afterAll(async () => {
  await rig?.stop();
});

describe("the endpoint data plane", () => {
  it("carries method, path and query, headers and body, and answers with the replica's status and headers", async () => {
    const answer = await send(`${rig.base}/echo/a/b?status=201&q=x%20y`, {
      method: "PUT",
      headers: {
        "x-custom": "yes",
        "content-type": "text/plain",
        connection: "keep-alive, x-secret",
        "x-secret": "no",
      },
      body: "hello replica",
    });
    expect(answer.status).toBe(201);
    expect(answer.headers["x-echo"]).toBe("yes");
    const echoed = JSON.parse(answer.body);
    expect(echoed.method).toBe("PUT");
    expect(echoed.path).toBe("/echo/a/b?status=201&q=x%20y");
    expect(echoed.body).toBe("hello replica");
    expect(echoed.headers["x-custom"]).toBe("yes");
    // Hop-by-hop headers, and those `connection` names, stay on their hop.
    expect(echoed.headers["x-secret"]).toBeUndefined();
    expect(echoed.headers.host).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it("streams a chunked request body and a method without one", async () => {
    const chunks = [Buffer.from("one,"), Buffer.from("two,"), Buffer.from("three")];
    const answer = await send(`${rig.base}/echo/stream`, { method: "POST", chunks });
    expect(JSON.parse(answer.body).body).toBe("one,two,three");
    const deleted = await send(`${rig.base}/echo`, { method: "DELETE" });
    expect(JSON.parse(deleted.body).method).toBe("DELETE");
  });

  it("streams server-sent events as they come, before the response ends", async () => {
    const answer = await complete(rig.base, { sleep_ms: 900, tokens: 6, stream: true });
    expect(answer.status).toBe(200);
    expect(answer.headers["content-type"]).toBe("text/event-stream");
    const events = answer.body.split("\n\n").filter((e) => e.startsWith("data:"));
    expect(events.at(-1)).toBe("data: [DONE]");
    expect(JSON.parse(events.at(-2)?.slice(5) ?? "{}").usage.total_tokens).toBe(6);
    // Six events 150 ms apart: the first arrives long before the end, and several arrive apart.
    expect(answer.chunkTimes.length).toBeGreaterThanOrEqual(4);
    expect(answer.endedMs - (answer.chunkTimes[0] as number)).toBeGreaterThan(500);
  });

  it("answers 413 in words for a body over the limit, declared or streamed", async () => {
    const declared = await send(`${rig.base}/echo`, { method: "POST", body: Buffer.alloc(2 * 1024 * 1024) });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body).error.message).toMatch(
      /request body of 2097152 bytes is over endpoint ep-test's limit/,
    );
    // Under the gateway's limit but over the provider's: the proxy's own 413.
    const streamed = await send(`${rig.base}/echo`, {
      method: "POST",
      chunks: [Buffer.alloc(40 * 1024), Buffer.alloc(40 * 1024)],
    });
    expect(streamed.status).toBe(413);
    expect(streamed.headers["x-gridspot-error"]).toBe("request-too-large");
    expect(JSON.parse(streamed.body).error.message).toMatch(/over endpoint ep-test's limit of 65536 bytes/);
  });

  it("answers 502 in words for a response over the limit, and cuts one that goes over mid-stream", async () => {
    const declared = await send(`${rig.base}/bytes?n=200000`);
    expect(declared.status).toBe(502);
    expect(declared.headers["x-gridspot-error"]).toBe("response-too-large");
    expect(JSON.parse(declared.body).error.message).toMatch(
      /response of 200000 bytes is over endpoint ep-test's limit of 100000 bytes/,
    );
    const chunked = await send(`${rig.base}/bytes?n=300000&chunked=1`);
    expect(chunked.status).toBe(200);
    expect(chunked.error).toBeDefined();
    expect(chunked.body.length).toBeLessThanOrEqual(100_000);
    // The stream that carried it was reset, not reused; the next request is served.
    expect((await send(`${rig.base}/bytes?n=10`)).body).toBe("xxxxxxxxxx");
  });

  it("answers 404 in words for an unknown endpoint, at the gateway and at the provider", async () => {
    const unknown = await send(`${gatewayUrl}/e/nope/v1/models`);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).error.message).toBe("no endpoint nope is served through this gateway");
    expect((await send(`${gatewayUrl}/elsewhere`)).status).toBe(404);
    rig.gateway.addEndpoint({ id: "not-served", providers: [{ peerId: rig.provider.peerId }] });
    const notServed = await send(`${gatewayUrl}/e/not-served/x`);
    expect(notServed.status).toBe(404);
    expect(JSON.parse(notServed.body).error.message).toBe("this provider serves no endpoint not-served");
  });

  it("answers 502 in words when no provider can be reached", async () => {
    const ghost = peerIdFromPrivateKey(await generateKeyPair("Ed25519"));
    rig.gateway.addEndpoint({
      id: "ghost",
      providers: [{ peerId: ghost, addrs: [multiaddr("/ip4/127.0.0.1/tcp/1")] }],
    });
    const answer = await send(`${gatewayUrl}/e/ghost/v1/models`);
    expect(answer.status).toBe(502);
    expect(answer.headers["x-gridspot-error"]).toBe("provider-unreachable");
    expect(JSON.parse(answer.body).error.message).toMatch(
      /^no provider of endpoint ghost can be reached \(.+\)$/,
    );
  });

  it("stops the replica's request when the caller goes away", async () => {
    const controller = new AbortController();
    const pending = fetch(`${rig.base}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ sleep_ms: 5_000, tokens: 1 }),
      signal: controller.signal,
    }).catch((error: Error) => error);
    await waitFor(
      () => (rig.proxy.usage(rig.endpointId)?.total.inFlight ?? 0) === 1,
      5_000,
      "the request in flight",
    );
    controller.abort();
    await pending;
    await waitFor(() => rig.proxy.usage(rig.endpointId)?.total.inFlight === 0, 5_000, "the replica released");
    await waitFor(() => rig.gateway.usage(rig.endpointId)?.inFlight === 0, 5_000, "the gateway released");
  });
});
