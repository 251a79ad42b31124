import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Libp2p, PeerId } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { createLogger, type Logger } from "../log/createLogger.ts";
import { type HttpRequestHead, httpRequestHead } from "../messages/http.ts";
import {
  HTTP_MAX_REQUEST_BODY_BYTES,
  HTTP_MAX_RESPONSE_BODY_BYTES,
  HTTP_RESPONSE_TIMEOUT_MS,
} from "../p2p/constants.ts";
import { DEFAULT_GATEWAY_HOSTNAME, DEFAULT_GATEWAY_PORT, GATEWAY_DIAL_TIMEOUT_MS } from "./constants.ts";
import { createProviderHealth } from "./createProviderHealth.ts";
import { createStreamPool, type PooledStream } from "./createStreamPool.ts";
import type { TokenSource } from "./createTokenCounter.ts";
import { createUsageMeter, type UsageMeter, type UsageSnapshot } from "./createUsageMeter.ts";
import { forwardedHeaders } from "./forwardedHeaders.ts";
import { forwardRequest } from "./forwardRequest.ts";
import { readSmallBody } from "./readSmallBody.ts";
import { replyError } from "./replyError.ts";
import { teeMeter } from "./teeMeter.ts";

/** A provider serving replicas of an endpoint. */
export type GatewayProvider = {
  peerId: PeerId;
  /** Where to dial it, when the host does not know yet (the agreement's addresses). */
  addrs?: readonly Multiaddr[] | undefined;
  /**
   * The id this provider serves the endpoint under (its agreement's job id), sent in each request
   * head; default the route's id.
   */
  remoteId?: string | undefined;
};

/** An endpoint the gateway routes: `/e/<id>/…` goes to one of its providers. */
export type GatewayRoute = {
  id: string;
  providers: readonly GatewayProvider[];
  /** Where answers state their tokens (default: the response's `usage`). Same as the provider's. */
  tokens?: TokenSource | undefined;
  /** Default HTTP_MAX_REQUEST_BODY_BYTES / HTTP_MAX_RESPONSE_BODY_BYTES. */
  maxRequestBodyBytes?: number | undefined;
  maxResponseBodyBytes?: number | undefined;
  /**
   * Why the endpoint takes no request while it has no provider (its budget spent, deleted): the
   * status and words its callers get, e.g. 402 `budget-reached`. Default 502 `provider-unreachable`.
   */
  closed?: { status: number; code: string; message: string } | undefined;
};

export type GatewayComponents = {
  host: Pick<Libp2p, "dialProtocol" | "peerStore">;
  /** Default `gridspot:agent:gateway` on stderr. */
  logger?: Logger | undefined;
};

export type CreateGatewayParameters = {
  /** Default 8788 (DEFAULT_GATEWAY_PORT); 0 picks a free port. */
  port?: number | undefined;
  /** Default 127.0.0.1: the gateway spends the payer's money, so it serves this machine only. */
  hostname?: string | undefined;
  /** Default HTTP_RESPONSE_TIMEOUT_MS: the longest wait for the provider's next frame. */
  responseTimeoutMs?: number | undefined;
  /** Default GATEWAY_DIAL_TIMEOUT_MS. */
  dialTimeoutMs?: number | undefined;
};

export type Gateway = {
  /** Listens; resolves with the port and base URL. */
  start(): Promise<{ port: number; url: string }>;
  stop(): Promise<void>;
  /** Routes an endpoint (replacing its earlier route, its meter kept). */
  addEndpoint(route: GatewayRoute): void;
  removeEndpoint(id: string): void;
  /** What this gateway counted for the endpoint, on its own observations. */
  usage(id: string): UsageSnapshot | undefined;
  /** What it counted for the endpoint's requests sent to one provider (checked against its notes). */
  providerUsage(id: string, peerId: string): UsageSnapshot | undefined;
};

const PATH = /^\/e\/([A-Za-z0-9_-]{1,64})(\/[^?#]*)?(\?[^#]*)?$/;

/**
 * The payer's endpoint gateway (DESIGN §12): a plain HTTP server on 127.0.0.1 that takes
 * `/e/<endpoint>/<path>?<query>` with any method, headers and body, and forwards it over
 * `/gridspot/http/1.0.0` to a provider serving that endpoint (the one with the fewest requests in
 * flight from here), streaming both ways. It meters each endpoint itself: requests, tokens, and
 * busy time as seen from here — from the request head sent to the response's end, so its busy time
 * holds the provider's (an upper bound the payer checks notes against).
 *
 * Its own errors are in words with a status: 404 for an unknown path or endpoint, 413 for a body
 * over the limit, 502 for a provider that cannot be reached or fails mid-way, 504 for one that goes
 * silent. It is Node's http server rather than Fastify: a proxy of raw bodies, where the framework
 * would add cost per request and nothing of use.
 */
export function createGateway(
  components: GatewayComponents,
  parameters: CreateGatewayParameters = {},
): Gateway {
  const routes = new Map<string, GatewayRoute>();
  const meters = new Map<string, UsageMeter>();
  const health = createProviderHealth();
  /** Requests sent to each provider and not yet over, from this gateway. */
  const inFlight = new Map<string, number>();
  const pool = createStreamPool({ host: components.host });
  const responseTimeoutMs = parameters.responseTimeoutMs ?? HTTP_RESPONSE_TIMEOUT_MS;
  const dialTimeoutMs = parameters.dialTimeoutMs ?? GATEWAY_DIAL_TIMEOUT_MS;
  const logger = components.logger ?? createLogger("gridspot:agent:gateway");
  let server: Server | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const match = PATH.exec(req.url ?? "");
    if (match === null) {
      return replyError(res, 404, "not-found", "gateway paths are /e/<endpoint id>/<path>");
    }
    const endpoint = match[1] as string;
    const route = routes.get(endpoint);
    if (route === undefined) {
      return replyError(
        res,
        404,
        "unknown-endpoint",
        `no endpoint ${endpoint} is served through this gateway`,
      );
    }
    const maxRequestBodyBytes = route.maxRequestBodyBytes ?? HTTP_MAX_REQUEST_BODY_BYTES;
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > maxRequestBodyBytes) {
      return replyError(
        res,
        413,
        "request-too-large",
        `the request body of ${declared} bytes is over endpoint ${endpoint}'s limit of ${maxRequestBodyBytes} bytes`,
        { close: true },
      );
    }
    const parsed = httpRequestHead.safeParse({
      type: "request-head",
      endpoint,
      method: req.method,
      path: `${match[2] ?? "/"}${match[3] ?? ""}`,
      headers: forwardedHeaders(req.rawHeaders),
    });
    if (!parsed.success) {
      return replyError(
        res,
        400,
        "bad-request",
        `the request cannot be forwarded: ${parsed.error.issues[0]?.message}`,
      );
    }
    const head: HttpRequestHead = parsed.data;

    if (route.providers.length === 0) {
      const closed = route.closed ?? {
        status: 502,
        code: "provider-unreachable",
        message: `endpoint ${endpoint} has no provider`,
      };
      return replyError(res, closed.status, closed.code, closed.message);
    }
    // A small body is read first: the request can then go to another provider when one fails
    // before answering. A larger (or chunked) one streams through, tried on one provider only.
    const body = await readSmallBody(req, declared);
    if (body === "caller-gone") return;

    // Providers that answer first, the fewest requests in flight from here first; those that failed
    // lately (health) only after them. Each is tried until one answers.
    const now = Date.now();
    const providers = [...route.providers].sort(
      (a, b) =>
        Number(health.downUntil(a.peerId.toString()) > now) -
          Number(health.downUntil(b.peerId.toString()) > now) ||
        (inFlight.get(a.peerId.toString()) ?? 0) - (inFlight.get(b.peerId.toString()) ?? 0),
    );
    const failures: string[] = [];
    for (const [i, provider] of providers.entries()) {
      const peer = provider.peerId.toString();
      // Counted from the choice on (before any await): requests arriving together spread out.
      inFlight.set(peer, (inFlight.get(peer) ?? 0) + 1);
      const done = () => inFlight.set(peer, (inFlight.get(peer) ?? 1) - 1);
      let pooled: PooledStream;
      try {
        pooled = await pool.acquire(provider.peerId, { timeoutMs: dialTimeoutMs, addrs: provider.addrs });
      } catch (error) {
        const why = (error as Error).message.split("\n")[0] ?? "";
        health.failed(peer, why);
        failures.push(`${peer}: ${why}`);
        done();
        continue;
      }
      const outcome = await forwardRequest({
        req,
        res,
        pooled,
        head: provider.remoteId === undefined ? head : { ...head, endpoint: provider.remoteId },
        tokens: route.tokens ?? { from: "usage" },
        meter: teeMeter(meterOf(endpoint), meterOf(providerKey(endpoint, peer))),
        maxRequestBodyBytes,
        maxResponseBodyBytes: route.maxResponseBodyBytes ?? HTTP_MAX_RESPONSE_BODY_BYTES,
        responseTimeoutMs,
        logger,
        ...(body === undefined ? {} : { body, retryable: i < providers.length - 1 }),
      });
      done();
      if (outcome.reuse) pool.release(pooled);
      else pool.discard(pooled, outcome.reason);
      if (outcome.retry === undefined) {
        if (outcome.reuse) health.answered(peer);
        return;
      }
      health.failed(peer, outcome.retry);
      failures.push(`${peer}: ${outcome.retry}`);
      logger.info("request retried on another provider", { endpoint, peer, why: outcome.retry });
    }
    logger.warn("no provider reachable", { endpoint, failures });
    return replyError(
      res,
      502,
      "provider-unreachable",
      `no provider of endpoint ${endpoint} can be reached (${failures.join("; ")})`,
    );
  };

  /** One meter per endpoint (`id`), and one per endpoint and provider (`id` + "\n" + peer). */
  const meterOf = (key: string): UsageMeter => {
    let meter = meters.get(key);
    if (meter === undefined) {
      meter = createUsageMeter();
      meters.set(key, meter);
    }
    return meter;
  };
  const providerKey = (id: string, peer: string) => `${id}\n${peer}`;

  return {
    async start() {
      const listening = createServer({ noDelay: true, keepAliveTimeout: 65_000 }, (req, res) => {
        handle(req, res).catch((error: unknown) => {
          logger.error("gateway request failed", { error: (error as Error).message });
          replyError(res, 500, "gateway-error", "the gateway failed on this request");
        });
      });
      server = listening;
      await new Promise<void>((resolve, reject) => {
        listening.once("error", reject);
        listening.listen(
          parameters.port ?? DEFAULT_GATEWAY_PORT,
          parameters.hostname ?? DEFAULT_GATEWAY_HOSTNAME,
          () => {
            listening.off("error", reject);
            resolve();
          },
        );
      });
      const { port } = listening.address() as AddressInfo;
      const hostname = parameters.hostname ?? DEFAULT_GATEWAY_HOSTNAME;
      return { port, url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}` };
    },
    async stop() {
      pool.close();
      const listening = server;
      server = undefined;
      if (listening === undefined) return;
      await new Promise<void>((resolve) => {
        listening.close(() => resolve());
        listening.closeAllConnections();
      });
    },
    addEndpoint(route) {
      routes.set(route.id, route);
      meterOf(route.id);
    },
    removeEndpoint(id) {
      routes.delete(id);
    },
    usage: (id) => meters.get(id)?.snapshot(),
    providerUsage: (id, peerId) => meters.get(providerKey(id, peerId))?.snapshot(),
  };
}
