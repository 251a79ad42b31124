/** Defaults of an endpoint's replica set (DESIGN §12); the agreement or operator may set others. */

/** A replica with no request in flight for this long is stopped (down to `min`; to zero when min is 0). */
export const DEFAULT_REPLICA_IDLE_TIMEOUT_MS = 300_000;
/**
 * The longest a request waits for a replica: a cold start (image start, model load, health check)
 * or a free slot. Past it the request gets a 503 in words; it is never dropped silently.
 */
export const DEFAULT_COLD_START_TIMEOUT_MS = 120_000;
/** Requests one replica serves at once; beyond, they queue and the set scales up (to `max`). */
export const DEFAULT_REPLICA_CONCURRENCY = 32;
/** Polled until the replica answers with a status below 500 (a 503 means "still loading"). */
export const DEFAULT_HEALTH_PATH = "/health";
/** Health polls start this often and slow down to the maximum. */
export const HEALTH_POLL_MIN_MS = 10;
export const HEALTH_POLL_MAX_MS = 250;
/** One health probe's timeout. */
export const HEALTH_PROBE_TIMEOUT_MS = 2_000;
/** A replica asked to stop gets this long before it is killed. */
export const REPLICA_STOP_GRACE_MS = 5_000;
/** After a replica fails to start, the next start (to keep `min`) waits this long, doubling to the max. */
export const REPLICA_RESTART_BACKOFF_MS = 1_000;
export const REPLICA_RESTART_BACKOFF_MAX_MS = 30_000;
/** Request body bytes the proxy holds while a replica starts, before it stops reading the stream. */
export const PROXY_BUFFER_BYTES = 1024 * 1024;
/** How long the proxy waits for a new stream's first request head. */
export const PROXY_HEAD_TIMEOUT_MS = 10_000;
