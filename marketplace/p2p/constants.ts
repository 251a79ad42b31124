/** Gossip topics and stream protocols of the gridspot market, with their limits (DESIGN §4). */
export const OFFERS_TOPIC = "/gridspot/offers/1";
export const ORDERS_TOPIC = "/gridspot/orders/1";
export const BID_PROTOCOL = "/gridspot/bid/1.0.0";
export const JOB_PROTOCOL = "/gridspot/job/1.0.0";

/** A gossiped offer or order, envelope included. */
export const MAX_GOSSIP_MESSAGE_BYTES = 16 * 1024;
/** One frame on the bid stream. */
export const MAX_BID_FRAME_BYTES = 32 * 1024;
/** One frame on the job stream: the start frame carries the inputs, the outputs frame the outputs. */
export const MAX_JOB_FRAME_BYTES = 16 * 1024 * 1024;
/** Total size of a job's inputs, and of the outputs sent back. */
export const MAX_JOB_INPUT_BYTES = 8 * 1024 * 1024;
export const MAX_JOB_OUTPUT_BYTES = 8 * 1024 * 1024;
/** A log frame carries at most this many bytes of a job's output stream. */
export const MAX_LOG_CHUNK_BYTES = 32 * 1024;

/** How long a peer may take to answer one frame on the bid stream before we give up on it. */
export const BID_FRAME_TIMEOUT_MS = 10_000;
/** Inbound bid streams one peer may hold open at once, and the rate limit per peer. */
export const MAX_INBOUND_BID_STREAMS = 32;
export const OFFER_INTERVAL_MS = 30_000;
/** How long an offer or order stays valid. */
export const OFFER_TTL_S = 90;
export const ORDER_TTL_S = 60;
