import { apiError } from "../../marketplace/messages/operatorApi.ts";

/** Body limit of `POST /v1/usage`: MAX_USAGE_BATCH_EVENTS (1,000) events of up to about 1 KiB each. */
export const USAGE_BODY_LIMIT_BYTES = 1024 * 1024;

/** The answers of every route other than its successes: `{error, message}` (see `apiError`). */
export const ERROR_ANSWERS = { "4xx": apiError, "5xx": apiError } as const;
