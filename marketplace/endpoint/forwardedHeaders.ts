/**
 * Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1), plus those the next hop
 * sets itself: `host` (the replica's address), `expect` (the gateway answers 100-continue itself),
 * `content-length` beside `transfer-encoding` (the length is then not the body's).
 */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "expect",
  "http2-settings",
]);

/**
 * The end-to-end headers of a raw header list (`[name, value, …]`, as Node's `rawHeaders`): hop-by-hop
 * headers and those the `connection` header names dropped, order and repeats kept.
 */
export function forwardedHeaders(raw: readonly string[]): string[] {
  let named: Set<string> | undefined;
  let chunked = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === "connection") {
      named ??= new Set();
      for (const token of (raw[i + 1] as string).split(",")) named.add(token.trim().toLowerCase());
    } else if (name === "transfer-encoding") chunked = true;
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower) || (chunked && lower === "content-length")) continue;
    out.push(name, raw[i + 1] as string);
  }
  return out;
}

/** The first value of header `name` (lower case) in a raw list, or undefined. */
export function headerValue(raw: readonly string[], name: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === name) return raw[i + 1];
  }
  return undefined;
}
