import type { Libp2p } from "@libp2p/interface";
import {
  createUsageMeter,
  GRANULARITIES,
  type UsageMeter,
  type UsageSnapshot,
} from "../../marketplace/endpoint/createUsageMeter.ts";
import { sumUsage } from "../../marketplace/endpoint/sumUsage.ts";
import { createLogger, type Logger } from "../../marketplace/log/createLogger.ts";
import {
  HTTP_MAX_REQUEST_BODY_BYTES,
  HTTP_MAX_RESPONSE_BODY_BYTES,
  HTTP_MAX_STREAMS,
  HTTP_PROTOCOL,
  HTTP_RESPONSE_TIMEOUT_MS,
} from "../../marketplace/p2p/constants.ts";
import type { Granularity } from "../../marketplace/rating/types.ts";
import { EndpointError } from "./errors.ts";
import type { ProxyEndpoint } from "./proxyEndpoint.ts";
import { serveHttpStream } from "./serveHttpStream.ts";

export type EndpointProxyComponents = {
  host: Pick<Libp2p, "handle" | "unhandle">;
  /** Default `gridspot:node:endpoint` on stderr. */
  logger?: Logger | undefined;
};

export type CreateEndpointProxyParameters = {
  /** The longest a replica may stay silent mid-request (default HTTP_RESPONSE_TIMEOUT_MS). */
  upstreamTimeoutMs?: number | undefined;
  /** Streams of the protocol per connection (default HTTP_MAX_STREAMS). */
  maxStreams?: number | undefined;
  /** Closes a stream idle this long (default HTTP_STREAM_IDLE_TIMEOUT_MS). */
  streamIdleTimeoutMs?: number | undefined;
};

/** What the proxy metered for an endpoint: per replica, their sum, and the GPU-ms it bills. */
export type EndpointUsage = {
  total: UsageSnapshot;
  /** `total.billableMs` × the GPUs of a replica: the `gpu_ms` a note would bill at each granularity. */
  gpuMs: Record<Granularity, bigint>;
  replicas: Array<{ replicaId: string; usage: UsageSnapshot }>;
};

export type EndpointProxy = {
  /** Serves `/gridspot/http/1.0.0` on the host. */
  start(): Promise<void>;
  /** Stops serving and stops every endpoint's replicas. */
  stop(): Promise<void>;
  /** Serves an endpoint and starts its `min` replicas. @throws EndpointError when it is served already. */
  addEndpoint(endpoint: ProxyEndpoint): void;
  /** Stops serving an endpoint and stops its replicas; its usage stays readable. */
  removeEndpoint(id: string): Promise<void>;
  /**
   * Suspends an endpoint (its payer's vouchers are late): its requests are answered 402
   * `endpoint-suspended` with `reason` in words, and reach no replica; its replicas keep running.
   */
  suspendEndpoint(id: string, reason: string): void;
  /** Serves a suspended endpoint's requests again. */
  resumeEndpoint(id: string): void;
  usage(id: string): EndpointUsage | undefined;
};

/**
 * The provider's endpoint proxy (DESIGN §12): takes requests from payers' gateways over
 * `/gridspot/http/1.0.0` and forwards each to a replica of its endpoint (see `proxyExchange`),
 * metering every replica itself — requests, tokens, and busy periods (at least one request in
 * flight on that replica), which bill GPU-ms through `billableGpuMs`, as the gateway's meter does
 * on its side.
 */
export function createEndpointProxy(
  components: EndpointProxyComponents,
  parameters: CreateEndpointProxyParameters = {},
): EndpointProxy {
  const { host } = components;
  const logger = components.logger ?? createLogger("gridspot:node:endpoint");
  const endpoints = new Map<string, ProxyEndpoint>();
  const gpus = new Map<string, bigint>();
  /** Why each suspended endpoint is suspended. */
  const suspended = new Map<string, string>();
  const meters = new Map<string, Map<string, UsageMeter>>();
  const upstreamTimeoutMs = parameters.upstreamTimeoutMs ?? HTTP_RESPONSE_TIMEOUT_MS;

  const meterOf = (endpointId: string, replicaId: string): UsageMeter => {
    let perReplica = meters.get(endpointId);
    if (perReplica === undefined) {
      perReplica = new Map();
      meters.set(endpointId, perReplica);
    }
    let meter = perReplica.get(replicaId);
    if (meter === undefined) {
      meter = createUsageMeter();
      perReplica.set(replicaId, meter);
    }
    return meter;
  };

  return {
    async start() {
      await host.handle(
        HTTP_PROTOCOL,
        (stream, connection) =>
          serveHttpStream({
            stream,
            remotePeer: connection.remotePeer.toString(),
            endpoint: (id) => endpoints.get(id),
            suspendedFor: (id) => suspended.get(id),
            // Usage stays after removal: an id metered once and gone is an endpoint that ended here.
            ended: (id) => meters.has(id) && !endpoints.has(id),
            meterOf,
            upstreamTimeoutMs,
            idleTimeoutMs: parameters.streamIdleTimeoutMs,
            logger,
          }),
        { maxInboundStreams: parameters.maxStreams ?? HTTP_MAX_STREAMS },
      );
    },
    async stop() {
      await host.unhandle(HTTP_PROTOCOL);
      const all = [...endpoints.values()];
      endpoints.clear();
      await Promise.all(all.map((endpoint) => endpoint.replicas.stop()));
    },
    addEndpoint(endpoint) {
      if (endpoints.has(endpoint.id)) {
        throw new EndpointError(
          "bad-request",
          400,
          `endpoint ${endpoint.id} is served already: remove it first`,
        );
      }
      endpoints.set(endpoint.id, {
        ...endpoint,
        maxRequestBodyBytes: endpoint.maxRequestBodyBytes ?? HTTP_MAX_REQUEST_BODY_BYTES,
        maxResponseBodyBytes: endpoint.maxResponseBodyBytes ?? HTTP_MAX_RESPONSE_BODY_BYTES,
      });
      gpus.set(endpoint.id, endpoint.gpusPerReplica ?? 1n);
      meters.set(endpoint.id, meters.get(endpoint.id) ?? new Map());
      endpoint.replicas.start();
    },
    async removeEndpoint(id) {
      const endpoint = endpoints.get(id);
      endpoints.delete(id);
      suspended.delete(id);
      await endpoint?.replicas.stop();
    },
    suspendEndpoint(id, reason) {
      if (endpoints.has(id)) suspended.set(id, reason);
    },
    resumeEndpoint(id) {
      suspended.delete(id);
    },
    usage(id) {
      const perReplica = meters.get(id);
      if (perReplica === undefined) return undefined;
      const replicas = [...perReplica].map(([replicaId, meter]) => ({ replicaId, usage: meter.snapshot() }));
      const total = sumUsage(replicas.map((r) => r.usage));
      const factor = gpus.get(id) ?? 1n;
      const gpuMs = { ms: 0n, s: 0n, min: 0n } as Record<Granularity, bigint>;
      for (const g of GRANULARITIES) gpuMs[g] = total.billableMs[g] * factor;
      return { total, gpuMs, replicas };
    },
  };
}
