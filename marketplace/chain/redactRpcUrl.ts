/**
 * An RPC URL fit for messages and logs. Hosted endpoints carry their API key in the path, the query
 * or the user-info part (`https://eth-sepolia.g.alchemy.com/v2/<key>`), so only the scheme, host
 * and port are kept, and a marker shows that something was left out.
 */
export function redactRpcUrl(rpcUrl: string): string {
  let url: URL;
  try {
    url = new URL(rpcUrl);
  } catch {
    return "<invalid URL>";
  }
  const hidden = url.username !== "" || url.password !== "" || url.pathname.length > 1 || url.search !== "";
  return `${url.protocol}//${url.host}${hidden ? "/<redacted>" : ""}`;
}
