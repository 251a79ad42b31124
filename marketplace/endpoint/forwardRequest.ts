import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../log/createLogger.ts";
import type { HttpRequestHead, HttpResponseFrame } from "../messages/http.ts";
import { HTTP_MAX_HEAD_BYTES } from "../p2p/constants.ts";
import { FrameError } from "../p2p/frames.ts";
import type { PooledStream } from "./createStreamPool.ts";
import { createTokenCounter, type TokenCounter, type TokenSource } from "./createTokenCounter.ts";
import type { UsageMeter } from "./createUsageMeter.ts";
import { forwardedHeaders, headerValue } from "./forwardedHeaders.ts";
import { replyError } from "./replyError.ts";

/** One request through the gateway, on a stream already taken from the pool. */
export type ForwardRequestParameters = {
  req: IncomingMessage;
  res: ServerResponse;
  pooled: PooledStream;
  head: HttpRequestHead;
  tokens: TokenSource;
  /** The endpoint's meter at the gateway: busy from the head sent to the response's end. */
  meter: UsageMeter;
  maxRequestBodyBytes: number;
  maxResponseBodyBytes: number;
  /** The longest wait for the next frame from the provider (cold start included). */
  responseTimeoutMs: number;
  /** Told why a response was cut after its head (the caller sees only the cut). */
  logger?: Logger | undefined;
  /**
   * The whole request body, read already (a small one): sent from here rather than from `req`,
   * and the request may then be tried on another provider when this one fails before its answer.
   */
  body?: Buffer | undefined;
  /** With `body`: a failure before the answer is left to the caller to retry (`outcome.retry`). */
  retryable?: boolean | undefined;
};

/** How an exchange ended, for the pool: reuse the stream, or reset it with this reason. */
export type ForwardOutcome =
  | { reuse: true; retry?: string }
  | { reuse: false; reason: string; retry?: string };

/**
 * A provider's errors that say no replica there took the request (it no longer serves the endpoint,
 * has none to give, or is suspended): with its body read already, the request goes to another.
 */
const RETRY_ELSEWHERE = new Set([
  "unknown-endpoint",
  "no-replica",
  "replica-failed",
  "provider-busy",
  "endpoint-suspended",
]);

/**
 * Sends a caller's request over `pooled` (head, body chunks as they come, end) and writes the
 * provider's answer back as it arrives: status and headers, then each body frame at once (an event
 * stream reaches the caller event by event). Errors become statuses in words: the proxy's error
 * frames keep theirs (404 unknown endpoint, 413, 502, 503 cold-start timeout…), a stream that dies
 * before the head is a 502, no frame for `responseTimeoutMs` a 504; after the head the caller's
 * connection is cut. The caller leaving resets the stream, which stops the replica's request.
 * Never rejects.
 */
export function forwardRequest(p: ForwardRequestParameters): Promise<ForwardOutcome> {
  const { req, res, pooled, meter } = p;
  const peer = pooled.peer;
  const endpoint = p.head.endpoint;
  return new Promise((resolve) => {
    let responded = false;
    let requestEnded = false;
    let finished = false;
    let sentBytes = 0;
    let receivedBytes = 0;
    let counter: TokenCounter | undefined;
    let framesSeen = 0;
    const endBusy = meter.begin();

    const finish = (outcome: ForwardOutcome) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (p.body === undefined) {
        req.off("data", onData);
        req.off("end", onRequestEnd);
      }
      res.off("close", onCallerGone);
      pooled.exchange = undefined;
      if (counter !== undefined) meter.addTokens(counter.tokens());
      endBusy();
      if (!requestEnded && p.body === undefined) req.resume();
      if (pooled.stream.readStatus === "paused") pooled.stream.resume();
      resolve(outcome);
    };

    const onTimeout = () => {
      const seconds = Math.round(p.responseTimeoutMs / 1000);
      replyError(
        res,
        504,
        "provider-timeout",
        `the provider ${peer} of endpoint ${endpoint} sent nothing for ${seconds} s`,
      );
      finish({ reuse: false, reason: "no answer in time" });
    };
    const timer = setTimeout(onTimeout, p.responseTimeoutMs);

    const onData = (chunk: Buffer) => {
      sentBytes += chunk.byteLength;
      if (sentBytes > p.maxRequestBodyBytes) {
        replyError(
          res,
          413,
          "request-too-large",
          `the request body is over endpoint ${endpoint}'s limit of ${p.maxRequestBodyBytes} bytes`,
          { close: true },
        );
        finish({ reuse: false, reason: "request body over the limit" });
        return;
      }
      if (!pooled.writer.write({ type: "body", data: chunk })) {
        req.pause();
        pooled.writer.drained().then(
          () => req.resume(),
          () => {},
        );
      }
    };
    const onRequestEnd = () => {
      requestEnded = true;
      pooled.writer.write({ type: "end" });
    };
    const onCallerGone = () => {
      if (!res.writableFinished) finish({ reuse: false, reason: "the caller went away" });
    };

    const broken = (what: string) => {
      replyError(res, 502, "provider-protocol", `the provider ${peer} broke the protocol: ${what}`);
      finish({ reuse: false, reason: what });
    };

    const onFrame = (frame: HttpResponseFrame) => {
      if (finished) return;
      timer.refresh();
      framesSeen += 1;
      switch (frame.type) {
        case "response-head": {
          if (responded) return broken("a second response head");
          const headers = forwardedHeaders(frame.headers);
          const declared = Number(headerValue(headers, "content-length") ?? "0");
          if (declared > p.maxResponseBodyBytes) {
            replyError(
              res,
              502,
              "response-too-large",
              `the response of ${declared} bytes is over endpoint ${endpoint}'s limit of ${p.maxResponseBodyBytes} bytes`,
            );
            return finish({ reuse: false, reason: "response over the limit" });
          }
          responded = true;
          meter.countRequest();
          counter = createTokenCounter(p.tokens, frame.headers);
          res.writeHead(frame.status, headers);
          // A response of unknown length may be a stream of events: its head goes out now.
          if (headerValue(headers, "content-length") === undefined) res.flushHeaders();
          return;
        }
        case "body": {
          if (!responded) return broken("a body before the response head");
          receivedBytes += frame.data.byteLength;
          if (receivedBytes > p.maxResponseBodyBytes) {
            p.logger?.warn("response cut", {
              endpoint,
              code: "response-too-large",
              message: `the response went over the limit of ${p.maxResponseBodyBytes} bytes`,
            });
            res.destroy(new Error("response over the limit"));
            return finish({ reuse: false, reason: "response over the limit" });
          }
          counter?.push(frame.data);
          if (!res.write(frame.data)) {
            pooled.stream.pause();
            res.once("drain", () => {
              if (!finished) pooled.stream.resume();
            });
          }
          return;
        }
        case "end": {
          if (!responded) return broken("an end before the response head");
          res.end();
          return finish(
            requestEnded ? { reuse: true } : { reuse: false, reason: "answered before the request ended" },
          );
        }
        case "error": {
          // Nothing of this request reached a replica there: another provider may take it.
          if (!responded && p.retryable === true && RETRY_ELSEWHERE.has(frame.code) && !res.headersSent) {
            return finish({ reuse: true, retry: `${frame.code}: ${frame.message}` });
          }
          // Before the head: the caller gets the proxy's status and words. After it: the cut.
          if (responded)
            p.logger?.warn("response cut", { endpoint, code: frame.code, message: frame.message });
          replyError(res, frame.status, frame.code, frame.message);
          return finish(requestEnded ? { reuse: true } : { reuse: false, reason: frame.code });
        }
      }
    };

    pooled.exchange = {
      onFrame,
      onClose(error) {
        if (finished) return;
        if (p.retryable === true && framesSeen === 0 && !res.headersSent) {
          const why = `stream closed: ${error.message.split("\n")[0]}`;
          finish({ reuse: false, reason: why, retry: why });
          return;
        }
        replyError(
          res,
          502,
          "provider-closed",
          `the provider ${peer} of endpoint ${endpoint} closed the stream before answering: ${error.message.split("\n")[0]}`,
        );
        finish({ reuse: false, reason: "stream closed" });
      },
    };
    try {
      pooled.writer.write(p.head);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      // Nothing was written: the stream stays good for the next request.
      replyError(
        res,
        431,
        "head-too-large",
        `the request's path and headers are over ${HTTP_MAX_HEAD_BYTES} bytes`,
      );
      finish({ reuse: true });
      return;
    }
    res.on("close", onCallerGone);
    if (p.body === undefined) {
      req.on("data", onData);
      req.on("end", onRequestEnd);
      return;
    }
    // Read already, and within the limit (the gateway checked): sent whole, then the end.
    if (p.body.byteLength > 0) pooled.writer.write({ type: "body", data: p.body });
    requestEnded = true;
    pooled.writer.write({ type: "end" });
  });
}
