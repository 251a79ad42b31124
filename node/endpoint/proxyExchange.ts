import { type ClientRequest, type IncomingMessage, request } from "node:http";
import { createTokenCounter, type TokenCounter } from "../../marketplace/endpoint/createTokenCounter.ts";
import type { UsageMeter } from "../../marketplace/endpoint/createUsageMeter.ts";
import { forwardedHeaders, headerValue } from "../../marketplace/endpoint/forwardedHeaders.ts";
import type { HttpErrorCode, HttpRequestFrame, HttpRequestHead } from "../../marketplace/messages/http.ts";
import type { HttpFrameWriter } from "../../marketplace/p2p/httpFrames.ts";
import { PROXY_BUFFER_BYTES } from "./constants.ts";
import { EndpointError } from "./errors.ts";
import type { ProxyEndpoint } from "./proxyEndpoint.ts";
import type { ReplicaLease } from "./types.ts";

/** One request on a stream, from its head to the end of both bodies. */
export type ProxyExchange = {
  onFrame(frame: HttpRequestFrame): void;
  /** The stream closed or reset: whatever runs for this request stops. */
  onClose(): void;
};

export type ProxyExchangeParameters = {
  head: HttpRequestHead;
  /** The endpoint the head names, if this provider serves it. */
  endpoint: ProxyEndpoint | undefined;
  /** Why the endpoint is suspended, if it is: its requests are answered 402 and reach no replica. */
  suspendedFor?: string | undefined;
  /** The endpoint was served here and ended (an unknown one that did: said so in the 404). */
  ended?: boolean | undefined;
  remotePeer: string;
  writer: HttpFrameWriter;
  /** Pause and resume reading the stream (a replica slower than the caller's upload). */
  pauseStream(): void;
  resumeStream(): void;
  /** The meter of the replica a request runs on. */
  meterOf(endpointId: string, replicaId: string): UsageMeter;
  /** The longest the replica may stay silent (default HTTP_RESPONSE_TIMEOUT_MS). */
  upstreamTimeoutMs: number;
  /** Both sides are done: the stream may carry the next request. */
  onDone(): void;
};

/**
 * The provider's side of one request (DESIGN §12): checks the endpoint and the caller, takes a
 * replica from the set (waiting through a cold start), forwards method, path, headers and body to
 * the replica's port over a keep-alive connection, and streams the answer back frame by frame as
 * it comes. The replica is busy, on its meter, from the request sent to the response's end; the
 * request counts once the replica answers, its tokens once the body is over. Failures become error
 * frames in words: 404 unknown endpoint (or one that ended here), 403 not the payer, 402 suspended
 * (its payer's vouchers are late), 413 body over the limit, 502 replica failed or response over the
 * limit, 503 no replica in time, 504 replica silent.
 */
export function proxyExchange(p: ProxyExchangeParameters): ProxyExchange {
  const { head, endpoint, writer } = p;
  let requestEnded = false;
  let responseDone = false;
  let closed = false;
  let bodyBytes = 0;
  let buffered: Uint8Array[] = [];
  let bufferedBytes = 0;
  let upstream: ClientRequest | undefined;
  let lease: ReplicaLease | undefined;
  let endBusy: (() => void) | undefined;
  let meter: UsageMeter | undefined;
  let counter: TokenCounter | undefined;
  const abortWait = new AbortController();

  const maybeDone = () => {
    if (responseDone && requestEnded && !closed) p.onDone();
  };

  /** The replica's part is over (answered, failed or abandoned): its meter and slot are freed. */
  const release = () => {
    if (counter !== undefined) meter?.addTokens(counter.tokens());
    counter = undefined;
    endBusy?.();
    endBusy = undefined;
    lease?.release();
    lease = undefined;
  };

  const fail = (status: number, code: HttpErrorCode, message: string) => {
    if (responseDone) return;
    responseDone = true;
    upstream?.destroy();
    release();
    if (!closed) writer.write({ type: "error", status, code, message });
    p.resumeStream();
    maybeDone();
  };

  const maxRequest = endpoint?.maxRequestBodyBytes ?? 0;
  const maxResponse = endpoint?.maxResponseBodyBytes ?? 0;

  const onResponse = (response: IncomingMessage) => {
    if (responseDone) {
      response.destroy();
      return;
    }
    const declared = Number(headerValue(response.rawHeaders, "content-length") ?? "0");
    if (declared > maxResponse) {
      return fail(
        502,
        "response-too-large",
        `the replica's response of ${declared} bytes is over endpoint ${head.endpoint}'s limit of ${maxResponse} bytes`,
      );
    }
    writer.write({
      type: "response-head",
      status: response.statusCode ?? 502,
      headers: forwardedHeaders(response.rawHeaders),
    });
    meter?.countRequest();
    counter = createTokenCounter(endpoint?.tokens ?? { from: "usage" }, response.rawHeaders);
    let received = 0;
    response.on("data", (chunk: Buffer) => {
      if (responseDone) return;
      received += chunk.byteLength;
      if (received > maxResponse) {
        return fail(
          502,
          "response-too-large",
          `the replica's response went over endpoint ${head.endpoint}'s limit of ${maxResponse} bytes`,
        );
      }
      counter?.push(chunk);
      if (!writer.write({ type: "body", data: chunk })) {
        response.pause();
        writer.drained().then(
          () => response.resume(),
          () => {},
        );
      }
    });
    response.on("end", () => {
      if (responseDone) return;
      responseDone = true;
      writer.write({ type: "end" });
      release();
      maybeDone();
    });
    response.on("error", (error) => {
      fail(
        502,
        "replica-failed",
        `the replica's response broke off: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
      );
    });
  };

  const dispatch = (held: ReplicaLease) => {
    if (responseDone || closed) {
      held.release();
      return;
    }
    lease = held;
    meter = p.meterOf(head.endpoint, held.replicaId);
    endBusy = meter.begin();
    const headers = [...head.headers, "host", `${held.address.host}:${held.address.port}`];
    const sent = request(
      {
        host: held.address.host,
        port: held.address.port,
        method: head.method,
        path: head.path,
        headers,
        agent: held.agent,
        timeout: p.upstreamTimeoutMs,
      },
      onResponse,
    );
    upstream = sent;
    sent.on("timeout", () => {
      fail(
        504,
        "upstream-timeout",
        `the replica sent nothing for ${Math.round(p.upstreamTimeoutMs / 1000)} s`,
      );
    });
    sent.on("error", (error: NodeJS.ErrnoException) => {
      fail(
        502,
        "replica-failed",
        `the replica of endpoint ${head.endpoint} failed: ${error.code ?? error.message}`,
      );
    });
    // A body that is all here goes out with the head in one write.
    if (requestEnded) sent.end(buffered.length === 1 ? buffered[0] : Buffer.concat(buffered));
    else for (const chunk of buffered) sent.write(chunk);
    buffered = [];
    bufferedBytes = 0;
    p.resumeStream();
  };

  if (endpoint === undefined) {
    fail(
      404,
      "unknown-endpoint",
      p.ended === true
        ? `endpoint ${head.endpoint} has ended: this provider no longer serves it`
        : `this provider serves no endpoint ${head.endpoint}`,
    );
  } else if (endpoint.payerPeerId !== undefined && endpoint.payerPeerId !== p.remotePeer) {
    fail(403, "forbidden", `peer ${p.remotePeer} is not the payer of endpoint ${head.endpoint}`);
  } else if (p.suspendedFor !== undefined) {
    fail(
      402,
      "endpoint-suspended",
      `endpoint ${head.endpoint} is suspended: ${p.suspendedFor}`.slice(0, 1024),
    );
  } else {
    endpoint.replicas.acquire({ signal: abortWait.signal }).then(dispatch, (error: unknown) => {
      if (error instanceof EndpointError) fail(error.status, error.code, error.shortMessage);
      else if (!closed)
        fail(503, "no-replica", `no replica of endpoint ${head.endpoint}: ${(error as Error).message}`);
    });
  }

  return {
    onFrame(frame) {
      if (frame.type === "request-head") {
        // The caller may not start a second request before this one's body is over.
        fail(400, "bad-request", "a request head arrived before the previous request's end");
        return;
      }
      if (frame.type === "end") {
        requestEnded = true;
        upstream?.end();
        maybeDone();
        return;
      }
      if (responseDone) return; // answered already (an error): the rest of the body is dropped
      bodyBytes += frame.data.byteLength;
      if (bodyBytes > maxRequest) {
        return fail(
          413,
          "request-too-large",
          `the request body is over endpoint ${head.endpoint}'s limit of ${maxRequest} bytes`,
        );
      }
      if (upstream === undefined) {
        buffered.push(frame.data);
        bufferedBytes += frame.data.byteLength;
        if (bufferedBytes > PROXY_BUFFER_BYTES) p.pauseStream();
        return;
      }
      if (!upstream.write(frame.data)) {
        p.pauseStream();
        upstream.once("drain", p.resumeStream);
      }
    },
    onClose() {
      if (closed) return;
      closed = true;
      abortWait.abort(new Error("the caller went away"));
      if (!responseDone) {
        responseDone = true;
        upstream?.destroy();
        release();
      }
    },
  };
}
