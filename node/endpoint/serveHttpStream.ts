import type { Stream } from "@libp2p/interface";
import type { UsageMeter } from "../../marketplace/endpoint/createUsageMeter.ts";
import type { Logger } from "../../marketplace/log/createLogger.ts";
import { type HttpRequestFrame, httpRequestFrame } from "../../marketplace/messages/http.ts";
import { HTTP_STREAM_IDLE_TIMEOUT_MS } from "../../marketplace/p2p/constants.ts";
import { createHttpFrameDecoder, httpFrameWriter } from "../../marketplace/p2p/httpFrames.ts";
import type { ProxyEndpoint } from "./proxyEndpoint.ts";
import { type ProxyExchange, proxyExchange } from "./proxyExchange.ts";

export type ServeHttpStreamParameters = {
  stream: Stream;
  remotePeer: string;
  endpoint(id: string): ProxyEndpoint | undefined;
  /** Why the endpoint is suspended (its requests get 402), if it is. */
  suspendedFor?: ((id: string) => string | undefined) | undefined;
  /** Whether this provider served the endpoint once and no longer does (it ended). */
  ended?: ((id: string) => boolean) | undefined;
  meterOf(endpointId: string, replicaId: string): UsageMeter;
  upstreamTimeoutMs: number;
  /** Default HTTP_STREAM_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number | undefined;
  logger?: Logger | undefined;
};

/**
 * Serves one inbound `/gridspot/http/1.0.0` stream: one exchange after another (see
 * `proxyExchange`), until the gateway closes it or it stays idle past the timeout. A frame that
 * breaks the protocol resets the stream (and with it, the request it carried).
 */
export function serveHttpStream(p: ServeHttpStreamParameters): void {
  const { stream } = p;
  const decode = createHttpFrameDecoder(httpRequestFrame);
  const writer = httpFrameWriter(stream);
  let exchange: ProxyExchange | undefined;
  const idleTimeoutMs = p.idleTimeoutMs ?? HTTP_STREAM_IDLE_TIMEOUT_MS;
  const idle = setTimeout(function closeIfIdle() {
    if (exchange !== undefined) idle.refresh();
    else void stream.close().catch(() => stream.abort(new Error("idle")));
  }, idleTimeoutMs);
  idle.unref();

  const reset = (why: string) => {
    p.logger?.warn("http stream reset", { peer: p.remotePeer, why });
    stream.abort(new Error(why));
  };

  const begin = (frame: HttpRequestFrame) => {
    if (frame.type !== "request-head") return reset(`a ${frame.type} frame with no request`);
    idle.refresh();
    const current: ProxyExchange = proxyExchange({
      head: frame,
      endpoint: p.endpoint(frame.endpoint),
      suspendedFor: p.suspendedFor?.(frame.endpoint),
      ended: p.ended?.(frame.endpoint) === true,
      remotePeer: p.remotePeer,
      writer,
      pauseStream: () => {
        if (stream.readStatus === "readable") stream.pause();
      },
      resumeStream: () => {
        if (stream.readStatus === "paused") stream.resume();
      },
      meterOf: p.meterOf,
      upstreamTimeoutMs: p.upstreamTimeoutMs,
      onDone: () => {
        if (exchange === current) exchange = undefined;
        idle.refresh();
      },
    });
    exchange = current;
  };

  stream.addEventListener("message", (event) => {
    let frames: HttpRequestFrame[];
    try {
      frames = decode(event.data);
    } catch (error) {
      return reset((error as Error).message.split("\n")[0] ?? "bad frame");
    }
    for (const frame of frames) {
      if (exchange === undefined) begin(frame);
      else exchange.onFrame(frame);
    }
  });
  stream.addEventListener("remoteCloseWrite", () => {
    if (exchange === undefined) void stream.close().catch(() => {});
  });
  stream.addEventListener("close", () => {
    clearTimeout(idle);
    exchange?.onClose();
    exchange = undefined;
  });
}
