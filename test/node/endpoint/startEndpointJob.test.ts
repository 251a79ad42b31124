import { generateKeyPair } from "@libp2p/crypto/keys";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../../marketplace/log/createLogger.ts";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import { type HttpResponseFrame, httpResponseFrame } from "../../../marketplace/messages/http.ts";
import type { JobSpec } from "../../../marketplace/messages/job.ts";
import { HTTP_PROTOCOL } from "../../../marketplace/p2p/constants.ts";
import { createHost, type GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import { createHttpFrameDecoder, httpFrameWriter } from "../../../marketplace/p2p/httpFrames.ts";
import { createEndpointProxy, type EndpointProxy } from "../../../node/endpoint/createEndpointProxy.ts";
import { startEndpointJob } from "../../../node/endpoint/startEndpointJob.ts";
import type { UsageEvent } from "../../../node/meter/types.ts";
import { MODEL_SERVER, waitFor } from "../../integration/endpoint/endpointRig.ts";
import { agreement as agreementFixture } from "../../marketplace/messages/fixtures.ts";

// An endpoint served as a job on real parts: libp2p hosts on 127.0.0.1, the node's proxy, and
// model-server processes as replicas (endpoints.processReplicas), called over /gridspot/http/1.0.0.
const quiet = createLogger("test", () => {});
let provider: GridspotHost;
let payer: GridspotHost;
let proxy: EndpointProxy;

beforeAll(async () => {
  const host = async () =>
    createHost({
      privateKey: await generateKeyPair("Ed25519"),
      listen: ["/ip4/127.0.0.1/tcp/0"],
      localNetwork: true,
      minConnections: 0,
    });
  provider = await host();
  payer = await host();
  proxy = createEndpointProxy({ host: provider, logger: quiet });
  await proxy.start();
});
afterAll(async () => {
  await proxy?.stop();
  await payer?.stop();
  await provider?.stop();
});

const spec: JobSpec = {
  command: process.execPath,
  args: [MODEL_SERVER, "--port", "{port}", "--host", "127.0.0.1"],
  env: {},
  outputs: [],
  endpoint: { port: 8000, idleTimeoutS: 60, coldStartTimeoutS: 15, healthPath: "/health" },
};

function endpointAgreement(jobId: string, overrides: Partial<Agreement> = {}): Agreement {
  return {
    ...agreementFixture,
    jobId,
    submitterPeerId: payer.peerId.toString(),
    gpuClass: undefined,
    gpus: 0,
    cpuCores: 2,
    memMiB: 1024,
    granularity: "ms",
    endpoint: { minReplicas: 1, maxReplicas: 2, meterToleranceMs: 1000 },
    ...overrides,
  } as Agreement;
}

function serve(jobId: string, agreement: Agreement) {
  const events: UsageEvent[] = [];
  const log: string[] = [];
  const served = startEndpointJob(
    { serving: { proxy, processReplicas: true }, logger: quiet },
    {
      jobId,
      agreement,
      spec,
      runtime: { kind: "process" },
      gpuUuids: [],
      meterIntervalMs: 100,
      onEvents: (batch) => {
        events.push(...batch);
      },
      onMeterError: (error) => {
        throw error;
      },
      onStdout: (chunk) => log.push(chunk.toString()),
      onStderr: (chunk) => log.push(chunk.toString()),
    },
  );
  served.meter.start();
  return { ...served, events, log };
}

/** One request to the endpoint as the payer's gateway sends it; the frames that came back. */
async function call(from: GridspotHost, endpoint: string, body: object): Promise<HttpResponseFrame[]> {
  const stream = await from.dialProtocol(provider.getMultiaddrs(), HTTP_PROTOCOL);
  const decode = createHttpFrameDecoder(httpResponseFrame);
  const frames: HttpResponseFrame[] = [];
  const done = new Promise<void>((resolve, reject) => {
    stream.addEventListener("message", (event) => {
      for (const frame of decode(event.data)) {
        frames.push(frame);
        if (frame.type === "end" || frame.type === "error") resolve();
      }
    });
    stream.addEventListener("close", () => resolve());
    setTimeout(() => reject(new Error("no answer in 10 s")), 10_000).unref();
  });
  const data = Buffer.from(JSON.stringify(body));
  const writer = httpFrameWriter(stream);
  writer.write({
    type: "request-head",
    endpoint,
    method: "POST",
    path: "/v1/chat/completions",
    headers: ["content-type", "application/json", "content-length", String(data.byteLength)],
  });
  writer.write({ type: "body", data });
  writer.write({ type: "end" });
  await done;
  await stream.close().catch(() => {});
  return frames;
}

const statusOf = (frames: HttpResponseFrame[]) => {
  const first = frames[0];
  return first?.type === "response-head" || first?.type === "error" ? first.status : undefined;
};

describe("startEndpointJob", () => {
  it("serves the payer only, meters what it serves, answers 402 while suspended, and ends cancelled", async () => {
    const jobId = "ep-job-1";
    const job = serve(jobId, endpointAgreement(jobId));
    expect(job.handle).toMatchObject({ runtime: "process", sandbox: "none", suspended: false });
    await waitFor(() => job.log.some((l) => l.startsWith("replica ready")), 15_000, "a warm replica");

    const ok = await call(payer, jobId, { sleep_ms: 50, tokens: 7, prompt_tokens: 3 });
    expect(statusOf(ok)).toBe(200);
    // Anyone else is refused.
    const stranger = await createHost({
      privateKey: await generateKeyPair("Ed25519"),
      listen: ["/ip4/127.0.0.1/tcp/0"],
      localNetwork: true,
      minConnections: 0,
    });
    try {
      expect(statusOf(await call(stranger, jobId, { sleep_ms: 0, tokens: 1 }))).toBe(403);
    } finally {
      await stranger.stop();
    }

    await job.meter.pause();
    await job.handle.suspend("no voucher for note 3 within the grace period");
    expect(job.handle.suspended).toBe(true);
    const refused = await call(payer, jobId, { sleep_ms: 0, tokens: 1 });
    expect(refused).toEqual([
      {
        type: "error",
        status: 402,
        code: "endpoint-suspended",
        message: `endpoint ${jobId} is suspended: no voucher for note 3 within the grace period`,
      },
    ]);
    await job.handle.resume();
    await job.meter.resume();
    expect(statusOf(await call(payer, jobId, { sleep_ms: 0, tokens: 2 }))).toBe(200);

    const exit = await job.handle.cancel("cancelled by the submitter: endpoint deleted");
    expect(exit).toMatchObject({
      reason: "cancelled",
      detail: "cancelled by the submitter: endpoint deleted",
    });
    expect(await job.handle.exited).toBe(exit);
    await job.meter.stop();
    const total = (meter: string) =>
      job.events.filter((e) => e.meter === meter).reduce((sum, e) => sum + e.quantity, 0n);
    expect(total("requests")).toBe(2n);
    expect(total("tokens")).toBe(12n);
    // One warm replica of 1 core: at least its time served; the busy 50 ms lie within it.
    expect(total("cpu_core_ms")).toBeGreaterThan(0n);
    expect(total("gpu_ms")).toBe(0n);
    // The endpoint is gone, and the proxy says so.
    const gone = await call(payer, jobId, { sleep_ms: 0, tokens: 1 });
    expect(gone[0]).toMatchObject({
      status: 404,
      code: "unknown-endpoint",
      message: expect.stringContaining("ended"),
    });
    expect(job.log.join("")).toContain("endpoint stopping: cancelled by the submitter");
  }, 40_000);

  it("ends with reason timeout after the agreement's maximum duration", async () => {
    const jobId = "ep-job-2";
    const job = serve(
      jobId,
      endpointAgreement(jobId, {
        maxDurationS: 1,
        endpoint: { minReplicas: 0, maxReplicas: 1, meterToleranceMs: 0 },
      }),
    );
    const exit = await job.handle.exited;
    expect(exit).toMatchObject({ reason: "timeout", detail: "served its maximum duration of 1 s" });
    await job.meter.stop();
    // Nothing served, nothing warm: nothing billed.
    expect(job.events).toEqual([]);
  }, 10_000);

  it("refuses an agreement that is not an endpoint's", () => {
    expect(() =>
      serve("ep-job-3", { ...endpointAgreement("ep-job-3"), endpoint: undefined } as Agreement),
    ).toThrow("not an endpoint");
  });
});
