/** Gossip topics and stream protocols of the gridspot market, with their limits (DESIGN §4). */
export const OFFERS_TOPIC = "/gridspot/offers/1";
export const ORDERS_TOPIC = "/gridspot/orders/1";
export const BID_PROTOCOL = "/gridspot/bid/1.0.0";
export const JOB_PROTOCOL = "/gridspot/job/1.0.0";

/** A gossiped offer or order, envelope included: a bigger one is rejected (and its sender penalised). */
export const MAX_GOSSIP_MESSAGE_BYTES = 16 * 1024;
/**
 * One gossipsub RPC frame on the wire: a message plus control (IHAVE/IWANT ids of recent messages).
 * A frame above it is not decoded at all and the sender's stream is dropped. Sized for the control
 * traffic of a large market: ~1,000 recent message ids of ~50 bytes each, plus one whole message.
 */
export const MAX_GOSSIP_RPC_BYTES = 256 * 1024;
/** One frame on the bid stream. */
export const MAX_BID_FRAME_BYTES = 32 * 1024;
/**
 * One frame on the job stream. The start frame carries the inputs' manifest and the outputs frame
 * the outputs' (path, size and sha256 per file); file contents follow in chunk frames.
 */
export const MAX_JOB_FRAME_BYTES = 16 * 1024 * 1024;
/** Raw bytes of a file in one `input-chunk` or `output-chunk` frame (base64 in the frame). */
export const JOB_CHUNK_BYTES = 1024 * 1024;
/** Files in a job's inputs, and in the outputs sent back. */
export const MAX_JOB_FILES = 4096;
/** Characters in the path of an input or output file (relative to the work dir). */
export const MAX_JOB_PATH_CHARS = 1024;
/**
 * Total size of a job's inputs, and of the outputs sent back, unless the provider's config says
 * otherwise (`limits.maxInputBytes`, `limits.maxOutputBytes`).
 */
export const DEFAULT_MAX_JOB_INPUT_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_MAX_JOB_OUTPUT_BYTES = 1024 * 1024 * 1024;
/** How long either side waits for the next frame of a file transfer before giving up on it. */
export const JOB_TRANSFER_IDLE_TIMEOUT_MS = 60_000;
/**
 * The longest a job waits suspended for its payer to come back unless the provider's config says
 * otherwise (`limits.maxSuspendedS`), and what `job submit --detach` asks for by default.
 */
export const DEFAULT_MAX_SUSPENDED_S = 3600;
export const DEFAULT_ORDER_MAX_SUSPENDED_S = 600;
/** Bytes of each log stream a provider keeps per job for a payer that attaches again. */
export const JOB_LOG_REPLAY_BYTES = 1024 * 1024;
/** A log frame carries at most this many bytes of a job's output stream. */
export const MAX_LOG_CHUNK_BYTES = 32 * 1024;

/** How long a peer may take to answer one frame on the bid stream before we give up on it. */
export const BID_FRAME_TIMEOUT_MS = 10_000;
/** Inbound bid streams one peer may hold open at once. */
export const MAX_INBOUND_BID_STREAMS = 32;
/**
 * Submitter side: new bid streams accepted from one remote peer, a token bucket of
 * `BID_STREAM_BURST` refilled at `BID_STREAMS_PER_PEER_PER_S`. An honest provider opens one stream
 * per order it answers, and a submitter has a few orders open at most; a stream over the limit is
 * reset at once, before a byte of it is read.
 */
export const BID_STREAMS_PER_PEER_PER_S = 10;
export const BID_STREAM_BURST = 20;
/**
 * Provider side: orders from one submitter peer the bid engine answers, a token bucket of
 * `ORDERS_ANSWERED_BURST` refilled at `ORDERS_ANSWERED_PER_PEER_PER_S`. Each answer costs a
 * signature and an outbound stream; orders over the limit are still validated and forwarded, just
 * not answered by this node.
 */
export const ORDERS_ANSWERED_PER_PEER_PER_S = 5;
export const ORDERS_ANSWERED_BURST = 10;
/** Peers a rate limiter remembers at once: beyond it, the fullest (idlest) buckets are forgotten. */
export const RATE_LIMIT_MAX_PEERS = 10_000;
export const OFFER_INTERVAL_MS = 30_000;
/** How long an offer or order stays valid. */
export const OFFER_TTL_S = 90;
export const ORDER_TTL_S = 60;

/** The market's own Kademlia DHT, kept apart from the public IPFS one. */
export const DHT_PROTOCOL = "/gridspot/kad/1.0.0";
/**
 * Connections a node keeps at least: below it, it dials peers it learned of (DHT lookups, gossipsub
 * peer exchange) until it is back above. Gossipsub wants D = 6 mesh peers per topic (at least
 * Dlo = 4), so a few more than that.
 */
export const MIN_CONNECTIONS = 8;
/** How often a node checks it has MIN_CONNECTIONS, and looks for more peers when it does not. */
export const PEER_CHECK_INTERVAL_MS = 2_000;
/** Dials to discovered peers in flight at once, and how long each may take (libp2p's own default). */
export const MAX_PARALLEL_DISCOVERY_DIALS = 4;
export const DISCOVERY_DIAL_TIMEOUT_MS = 10_000;
/** A discovered peer that could not be dialled is not tried again for this long. */
export const DISCOVERY_DIAL_BACKOFF_MS = 15_000;
/** How long one DHT random walk for new peers may run. */
export const RANDOM_WALK_TIMEOUT_MS = 5_000;
/** How long createHost waits for each bootstrap peer before going on without it. */
export const BOOTSTRAP_DIAL_TIMEOUT_MS = 5_000;

/**
 * The endpoints' data plane (DESIGN §12): HTTP requests from the payer's gateway to a provider's
 * proxy. One request and its response at a time on a stream, which then carries the next request
 * (keep-alive): opening a stream costs a multistream negotiation (1–3 ms here), reusing one costs
 * nothing. Frames are binary (see `httpFrames.ts`): heads as JSON, bodies as raw bytes.
 */
export const HTTP_PROTOCOL = "/gridspot/http/1.0.0";
/** A request or response head (method, path, headers or status, headers) as encoded, at most. */
export const HTTP_MAX_HEAD_BYTES = 64 * 1024;
/** Body bytes in one frame; a bigger chunk is sent as several frames. */
export const HTTP_MAX_CHUNK_BYTES = 64 * 1024;
/** One frame on the stream, its type byte included. */
export const HTTP_MAX_FRAME_BYTES = Math.max(HTTP_MAX_HEAD_BYTES, HTTP_MAX_CHUNK_BYTES) + 1;
/** A request body, unless the endpoint says less: above it the gateway answers 413. */
export const HTTP_MAX_REQUEST_BODY_BYTES = 32 * 1024 * 1024;
/** A response body, unless the endpoint says less: above it the request fails with 502. */
export const HTTP_MAX_RESPONSE_BODY_BYTES = 256 * 1024 * 1024;
/** Streams of the protocol open at once on one connection, each way: requests in flight plus idle. */
export const HTTP_MAX_STREAMS = 512;
/** The proxy closes a stream that has carried no request for this long. */
export const HTTP_STREAM_IDLE_TIMEOUT_MS = 60_000;
/** The gateway closes a pooled stream idle this long: before the proxy would, so neither races. */
export const HTTP_POOL_IDLE_TIMEOUT_MS = 30_000;
/** How long the gateway waits for a response head (cold start and queue included) or a body frame. */
export const HTTP_RESPONSE_TIMEOUT_MS = 300_000;
