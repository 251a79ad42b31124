import { z } from "zod";
import { HTTP_MAX_CHUNK_BYTES, HTTP_MAX_HEAD_BYTES } from "../p2p/constants.ts";

/**
 * The frames of `/gridspot/http/1.0.0` (DESIGN §12), one schema per message, used by the payer's
 * gateway and the provider's proxy alike. A stream carries one exchange at a time:
 *
 *   gateway → proxy   request-head, body*, end
 *   proxy → gateway   response-head, body*, end   or   error (before or after the head)
 *
 * and then the next exchange. Bodies flow as they come (a server-sent event stream arrives event by
 * event). `httpFrames.ts` puts them on the wire: heads and errors as JSON, bodies as raw bytes.
 */

/** An endpoint's id, as the gateway's URL names it: `/e/<id>/…`. */
export const endpointId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "expected 1-64 url-safe characters");

/** An HTTP token (RFC 9110 §5.6.2): header names and methods. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A header value: visible characters, spaces and tabs; never CR, LF or NUL (no header injection). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\uffff]*$/;

/** Header entries (names plus values) a head may carry. */
const MAX_HEADER_ENTRIES = 512;

/**
 * Headers as Node's `rawHeaders` keeps them: a flat list `[name, value, name, value, …]`, in order,
 * repeats allowed (`set-cookie`). Hop-by-hop headers never travel (see `forwardedHeaders`). Checked
 * in one loop rather than a schema per string: it runs twice per request on each side.
 */
export const httpHeaders = z.unknown().superRefine((value, ctx) => {
  const problem = headersProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
}) as unknown as z.ZodType<string[]>;

/** What is wrong with a header list, or undefined when it is good. */
function headersProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return "not a list";
  if (value.length % 2 !== 0) return "not name, value pairs";
  if (value.length > MAX_HEADER_ENTRIES) return `more than ${MAX_HEADER_ENTRIES / 2} headers`;
  for (let i = 0; i < value.length; i += 2) {
    const name: unknown = value[i];
    const field: unknown = value[i + 1];
    if (typeof name !== "string" || name.length > 256 || !TOKEN.test(name))
      return `bad header name ${JSON.stringify(name)}`;
    if (typeof field !== "string" || field.length > HTTP_MAX_HEAD_BYTES || !FIELD_VALUE.test(field)) {
      return `bad value for header ${name}`;
    }
  }
  return undefined;
}

/** The request line and headers: `path` is the origin form (path and query) the replica sees. */
export const httpRequestHead = z.object({
  type: z.literal("request-head"),
  endpoint: endpointId,
  method: z.string().max(32).regex(TOKEN, "expected an HTTP method"),
  path: z
    .string()
    .max(16 * 1024)
    .regex(/^\/[\x21-\x7e]*$/, "expected a path starting with / without spaces or control characters"),
  headers: httpHeaders,
});
export type HttpRequestHead = z.infer<typeof httpRequestHead>;

/** The replica's status and headers. Informational (1xx) answers and upgrades do not travel. */
export const httpResponseHead = z.object({
  type: z.literal("response-head"),
  status: z.number().int().min(200).max(599),
  headers: httpHeaders,
});
export type HttpResponseHead = z.infer<typeof httpResponseHead>;

/** A piece of a body, at most HTTP_MAX_CHUNK_BYTES, sent as soon as it is read. */
export const httpBody = z.object({
  type: z.literal("body"),
  data: z
    .custom<Uint8Array>((data) => data instanceof Uint8Array, "expected bytes")
    .refine(
      (data) => data.byteLength <= HTTP_MAX_CHUNK_BYTES,
      `expected at most ${HTTP_MAX_CHUNK_BYTES} bytes`,
    ),
});
export type HttpBody = z.infer<typeof httpBody>;

/** The end of a request's or a response's body. */
export const httpEnd = z.object({ type: z.literal("end") });
export type HttpEnd = z.infer<typeof httpEnd>;

/**
 * Why the proxy could not answer (or finish answering), with the HTTP status the gateway gives its
 * caller. The code is stable; the message says what happened in words.
 */
export const HTTP_ERROR_CODES = [
  "bad-request",
  "unknown-endpoint",
  "forbidden",
  "request-too-large",
  "response-too-large",
  "cold-start-timeout",
  "no-replica",
  "replica-failed",
  "upstream-timeout",
  "provider-busy",
  /** The provider suspended the endpoint: its payer's vouchers are late (HTTP 402). */
  "endpoint-suspended",
] as const;
export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

export const httpError = z.object({
  type: z.literal("error"),
  status: z.number().int().min(400).max(599),
  code: z.enum(HTTP_ERROR_CODES),
  message: z.string().max(1024),
});
export type HttpError = z.infer<typeof httpError>;

/** What the gateway sends. */
export const httpRequestFrame = z.discriminatedUnion("type", [httpRequestHead, httpBody, httpEnd]);
export type HttpRequestFrame = z.infer<typeof httpRequestFrame>;

/** What the proxy sends. */
export const httpResponseFrame = z.discriminatedUnion("type", [
  httpResponseHead,
  httpBody,
  httpEnd,
  httpError,
]);
export type HttpResponseFrame = z.infer<typeof httpResponseFrame>;

export type HttpFrame = HttpRequestFrame | HttpResponseFrame;
