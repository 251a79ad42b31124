import type { Libp2p, PeerId, Stream } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { type HttpResponseFrame, httpResponseFrame } from "../messages/http.ts";
import { HTTP_MAX_STREAMS, HTTP_POOL_IDLE_TIMEOUT_MS, HTTP_PROTOCOL } from "../p2p/constants.ts";
import { createHttpFrameDecoder, type HttpFrameWriter, httpFrameWriter } from "../p2p/httpFrames.ts";
import { GatewayError } from "./errors.ts";

/** Where a pooled stream's frames go while it carries an exchange. */
export type StreamExchange = {
  onFrame(frame: HttpResponseFrame): void;
  /** The stream closed, was reset or broke the protocol before the exchange was over. */
  onClose(error: Error): void;
};

/** A stream to a provider's proxy, reused for one exchange after another. */
export type PooledStream = {
  readonly stream: Stream;
  readonly writer: HttpFrameWriter;
  readonly peer: string;
  exchange: StreamExchange | undefined;
};

export type StreamPool = {
  /**
   * An idle stream to `peer`, or a new one (dialled with `addrs` when given), or the next one
   * released when `HTTP_MAX_STREAMS` are busy.
   * @throws GatewayError `provider-unreachable` when the peer cannot be dialled, or no stream is
   *   free, within `timeoutMs`.
   */
  acquire(
    peer: PeerId,
    options: { timeoutMs: number; addrs?: readonly Multiaddr[] | undefined },
  ): Promise<PooledStream>;
  /** Back to the pool after a whole exchange (both ends sent `end`); it carries the next one. */
  release(pooled: PooledStream): void;
  /** Resets a stream left mid-exchange: the proxy stops the replica's request. */
  discard(pooled: PooledStream, reason: string): void;
  close(): void;
};

export type StreamPoolComponents = { host: Pick<Libp2p, "dialProtocol" | "peerStore"> };
export type CreateStreamPoolParameters = {
  /** Default HTTP_MAX_STREAMS. */
  maxStreamsPerPeer?: number;
  /** Default HTTP_POOL_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number;
};

type PeerStreams = {
  idle: PooledStream[];
  /** Streams open or being opened, idle included. */
  open: number;
  waiting: Array<(pooled: PooledStream | undefined) => void>;
};

/**
 * The gateway's streams of `/gridspot/http/1.0.0`, kept open per provider and reused (HTTP
 * keep-alive over libp2p): opening a stream costs a protocol negotiation, a round trip and more,
 * reusing one costs nothing. Each stream decodes what arrives and hands it to its current exchange.
 */
export function createStreamPool(
  components: StreamPoolComponents,
  parameters: CreateStreamPoolParameters = {},
): StreamPool {
  const max = parameters.maxStreamsPerPeer ?? HTTP_MAX_STREAMS;
  const idleTimeoutMs = parameters.idleTimeoutMs ?? HTTP_POOL_IDLE_TIMEOUT_MS;
  const peers = new Map<string, PeerStreams>();
  const lastUsed = new WeakMap<PooledStream, number>();
  let closed = false;

  const entry = (peer: string): PeerStreams => {
    let found = peers.get(peer);
    if (found === undefined) {
      found = { idle: [], open: 0, waiting: [] };
      peers.set(peer, found);
    }
    return found;
  };

  const usable = (pooled: PooledStream) =>
    pooled.stream.status === "open" &&
    pooled.stream.writeStatus === "writable" &&
    pooled.stream.remoteWriteStatus === "writable";

  const wrap = (stream: Stream, peer: string): PooledStream => {
    const pooled: PooledStream = { stream, writer: httpFrameWriter(stream), peer, exchange: undefined };
    const decode = createHttpFrameDecoder(httpResponseFrame);
    stream.addEventListener("message", (event) => {
      let frames: HttpResponseFrame[];
      try {
        frames = decode(event.data);
      } catch (error) {
        fail(error as Error);
        return;
      }
      for (const frame of frames) {
        if (pooled.exchange === undefined) {
          fail(
            new GatewayError(
              "provider-protocol",
              `the provider sent a ${frame.type} frame with no request in flight`,
            ),
          );
          return;
        }
        pooled.exchange.onFrame(frame);
      }
    });
    const fail = (error: Error) => {
      const exchange = pooled.exchange;
      pooled.exchange = undefined;
      stream.abort(error);
      exchange?.onClose(error);
    };
    stream.addEventListener("remoteCloseWrite", () => {
      if (pooled.exchange === undefined) void stream.close().catch(() => {});
      else
        fail(new GatewayError("provider-closed", "the provider closed the stream before the response ended"));
    });
    stream.addEventListener("close", (event) => {
      const streams = entry(peer);
      streams.open -= 1;
      const at = streams.idle.indexOf(pooled);
      if (at >= 0) streams.idle.splice(at, 1);
      const exchange = pooled.exchange;
      pooled.exchange = undefined;
      exchange?.onClose(event.error ?? new GatewayError("provider-closed", "the provider closed the stream"));
      // A slot is free: a waiter may open a stream of its own.
      streams.waiting.shift()?.(undefined);
    });
    return pooled;
  };

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const streams of peers.values()) {
        for (const pooled of [...streams.idle]) {
          if (now - (lastUsed.get(pooled) ?? now) < idleTimeoutMs) continue;
          streams.idle.splice(streams.idle.indexOf(pooled), 1);
          void pooled.stream.close().catch(() => pooled.stream.abort(new Error("idle")));
        }
      }
    },
    Math.max(1_000, Math.floor(idleTimeoutMs / 2)),
  );
  sweep.unref();

  const acquire: StreamPool["acquire"] = async (peerId, options) => {
    const peer = peerId.toString();
    const streams = entry(peer);
    // Made only when it must wait (a dial, a full pool): the common case takes an idle stream.
    let signal: AbortSignal | undefined;
    const deadline = () => {
      signal ??= AbortSignal.timeout(options.timeoutMs);
      return signal;
    };
    for (;;) {
      if (closed) throw new GatewayError("gateway-stopped", "the gateway is stopping");
      if (signal?.aborted === true) {
        throw new GatewayError(
          "provider-unreachable",
          `no stream to provider ${peer} within ${options.timeoutMs} ms`,
        );
      }
      while (streams.idle.length > 0) {
        const pooled = streams.idle.pop() as PooledStream;
        if (!usable(pooled)) continue;
        if (pooled.stream.readStatus === "paused") pooled.stream.resume();
        return pooled;
      }
      if (streams.open < max) {
        streams.open += 1;
        let stream: Stream;
        try {
          if (options.addrs !== undefined && options.addrs.length > 0) {
            await components.host.peerStore.merge(peerId, { multiaddrs: [...options.addrs] });
          }
          stream = await components.host.dialProtocol(peerId, HTTP_PROTOCOL, {
            signal: deadline(),
            maxOutboundStreams: max,
          });
        } catch (error) {
          streams.open -= 1;
          streams.waiting.shift()?.(undefined);
          throw new GatewayError("provider-unreachable", `cannot open a stream to provider ${peer}`, {
            cause: error,
            details: (error as Error).message.split("\n")[0],
          });
        }
        return wrap(stream, peer);
      }
      const waitSignal = deadline();
      const handed = await new Promise<PooledStream | undefined>((resolve) => {
        const onAbort = () => {
          const at = streams.waiting.indexOf(waiter);
          if (at >= 0) streams.waiting.splice(at, 1);
          resolve(undefined);
        };
        const waiter = (pooled: PooledStream | undefined) => {
          waitSignal.removeEventListener("abort", onAbort);
          resolve(pooled);
        };
        streams.waiting.push(waiter);
        waitSignal.addEventListener("abort", onAbort, { once: true });
      });
      if (handed !== undefined) return handed;
    }
  };

  return {
    acquire,
    release(pooled) {
      const streams = entry(pooled.peer);
      pooled.exchange = undefined;
      if (closed || !usable(pooled)) {
        pooled.stream.abort(new Error("not reusable"));
        return;
      }
      const waiter = streams.waiting.shift();
      if (waiter !== undefined) {
        waiter(pooled);
        return;
      }
      lastUsed.set(pooled, Date.now());
      streams.idle.push(pooled);
    },
    discard(pooled, reason) {
      pooled.exchange = undefined;
      pooled.stream.abort(new GatewayError("exchange-abandoned", reason));
    },
    close() {
      closed = true;
      clearInterval(sweep);
      for (const streams of peers.values()) {
        for (const pooled of streams.idle.splice(0)) pooled.stream.abort(new Error("gateway stopped"));
        for (const waiter of streams.waiting.splice(0)) waiter(undefined);
      }
    },
  };
}
