/** Where the payer agent's gateway listens by default: `http://127.0.0.1:8788/e/<endpoint>/…`. */
export const DEFAULT_GATEWAY_PORT = 8788;
export const DEFAULT_GATEWAY_HOSTNAME = "127.0.0.1";
/** How long the gateway waits to open a stream to a provider before answering 502. */
export const GATEWAY_DIAL_TIMEOUT_MS = 10_000;
/**
 * Request bodies up to this size are read before a provider is chosen, so that a request a provider
 * fails before answering goes to another; larger or chunked ones stream through to one provider.
 */
export const GATEWAY_RETRY_BODY_BYTES = 256 * 1024;
/** A provider that failed is tried after the others for this long, doubling to the max while it fails. */
export const PROVIDER_DOWN_MS = 1_000;
export const PROVIDER_DOWN_MAX_MS = 30_000;
