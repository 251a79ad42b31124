import { headerValue } from "./forwardedHeaders.ts";

/**
 * Where an endpoint's answers state their tokens: the OpenAI-style `usage` object of the response
 * (a JSON body's `usage`, or the last `usage` in a server-sent event stream, as OpenAI sends it with
 * `stream_options.include_usage`), or a response header the endpoint declares (a decimal count).
 */
export type TokenSource = { from: "usage" } | { from: "header"; header: string };

export type TokenCounter = {
  /** Feeds the next piece of the response body, as it arrives. */
  push(chunk: Uint8Array): void;
  /** The tokens of the response seen so far (call once the body is over). */
  tokens(): bigint;
};

/** A JSON body above this is not searched for `usage` (it counts 0 tokens, on both sides alike). */
export const MAX_USAGE_BODY_BYTES = 8 * 1024 * 1024;
/** An event-stream line above this is skipped. */
export const MAX_USAGE_LINE_BYTES = 1024 * 1024;

const USAGE = Buffer.from('"usage"');

/**
 * Counts the tokens of one response, the same way on the provider's proxy and the payer's gateway,
 * so both count the same bytes to the same number. A `usage` object counts its `total_tokens`, or
 * `prompt_tokens + completion_tokens` where the total is missing; anything else counts 0.
 */
export function createTokenCounter(source: TokenSource, headers: readonly string[]): TokenCounter {
  if (source.from === "header") {
    const value = headerValue(headers, source.header.toLowerCase())?.trim();
    const tokens = value !== undefined && /^[0-9]{1,18}$/.test(value) ? BigInt(value) : 0n;
    return { push: () => {}, tokens: () => tokens };
  }
  const contentType = headerValue(headers, "content-type")?.toLowerCase() ?? "";
  return contentType.startsWith("text/event-stream") ? eventStreamCounter() : jsonBodyCounter();
}

function jsonBodyCounter(): TokenCounter {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let result: bigint | undefined;
  return {
    push(chunk) {
      bytes += chunk.byteLength;
      if (bytes <= MAX_USAGE_BODY_BYTES)
        chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    },
    tokens() {
      if (result !== undefined) return result;
      result = 0n;
      if (bytes > MAX_USAGE_BODY_BYTES) return result;
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      if (body.indexOf(USAGE) < 0) return result;
      try {
        result = usageTokens((JSON.parse(body.toString("utf8")) as { usage?: unknown })?.usage);
      } catch {
        // Not JSON: no usage.
      }
      return result;
    },
  };
}

function eventStreamCounter(): TokenCounter {
  const decoder = new TextDecoder();
  let line = "";
  let skipping = false;
  let last = 0n;
  const take = (text: string) => {
    if (!text.startsWith("data:") || !text.includes('"usage"')) return;
    try {
      const event = JSON.parse(text.slice(5)) as { usage?: unknown };
      if (event?.usage !== undefined && event.usage !== null) last = usageTokens(event.usage);
    } catch {
      // Not JSON (`data: [DONE]`, a plain text event): no usage.
    }
  };
  const feed = (text: string) => {
    let start = 0;
    for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n", start)) {
      const piece = text.slice(start, end);
      if (!skipping) take((line + piece).replace(/\r$/, ""));
      line = "";
      skipping = false;
      start = end + 1;
    }
    if (skipping) return;
    line += text.slice(start);
    if (line.length > MAX_USAGE_LINE_BYTES) {
      line = "";
      skipping = true;
    }
  };
  return {
    push: (chunk) => feed(decoder.decode(chunk, { stream: true })),
    tokens() {
      feed(`${decoder.decode()}\n`);
      return last;
    },
  };
}

function usageTokens(usage: unknown): bigint {
  if (typeof usage !== "object" || usage === null) return 0n;
  const { total_tokens, prompt_tokens, completion_tokens } = usage as Record<string, unknown>;
  const count = (value: unknown) =>
    typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : undefined;
  return count(total_tokens) ?? (count(prompt_tokens) ?? 0n) + (count(completion_tokens) ?? 0n);
}
