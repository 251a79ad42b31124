import type { ServerResponse } from "node:http";

/**
 * Answers a gateway caller with an error in words, in the shape OpenAI clients print:
 * `{"error":{"code","message","type":"gridspot"}}`, the code also in `x-gridspot-error`.
 * Where the response has begun already, the connection is cut instead (the status is gone).
 */
export function replyError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  options: { close?: boolean } = {},
): void {
  if (res.headersSent) {
    res.destroy(new Error(message));
    return;
  }
  const body = JSON.stringify({ error: { code, message, type: "gridspot" } });
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-gridspot-error": code,
    ...(options.close === true ? { connection: "close" } : {}),
  });
  res.end(body);
}
