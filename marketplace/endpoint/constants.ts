/** Where the payer agent's gateway listens by default: `http://127.0.0.1:8788/e/<endpoint>/…`. */
export const DEFAULT_GATEWAY_PORT = 8788;
export const DEFAULT_GATEWAY_HOSTNAME = "127.0.0.1";
/** How long the gateway waits to open a stream to a provider before answering 502. */
export const GATEWAY_DIAL_TIMEOUT_MS = 10_000;
