/** Most usage events one `POST /v1/usage` may carry. */
export const MAX_USAGE_BATCH_EVENTS = 1_000;

/** Body limit of `POST /v1/usage`: 1,000 events of up to about 1 KiB each. */
export const USAGE_BODY_LIMIT_BYTES = 1024 * 1024;
