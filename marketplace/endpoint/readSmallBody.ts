import type { IncomingMessage } from "node:http";
import { GATEWAY_RETRY_BODY_BYTES } from "./constants.ts";

/**
 * The whole body of a request that declares a small one (a `content-length` up to
 * GATEWAY_RETRY_BODY_BYTES, or no body at all), read into memory; undefined for a larger or chunked
 * body, which is left unread to stream through. `caller-gone` when the caller left mid-way.
 */
export async function readSmallBody(
  req: IncomingMessage,
  declared: number,
): Promise<Buffer | undefined | "caller-gone"> {
  const chunked = req.headers["transfer-encoding"] !== undefined;
  if (chunked || declared > GATEWAY_RETRY_BODY_BYTES) return undefined;
  if (req.headers["content-length"] === undefined || declared === 0) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of req) chunks.push(chunk as Buffer);
  } catch {
    return "caller-gone";
  }
  if (!req.complete) return "caller-gone";
  return Buffer.concat(chunks);
}
