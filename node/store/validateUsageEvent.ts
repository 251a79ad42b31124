import { isMeter } from "../../marketplace/rating/meters.ts";
import { StoreError } from "../../marketplace/store/errors.ts";
import { JOB_SOURCE } from "../meter/constants.ts";
import type { UsageEvent } from "../meter/types.ts";

/** Largest quantity SQLite's 64-bit INTEGER holds. */
export const MAX_QUANTITY = 2n ** 63n - 1n;

/** Longest event id: debit notes quote the first and last event id in at most 256 characters. */
export const MAX_EVENT_ID_CHARS = 256;

/**
 * Checks one event before it is stored: non-empty ids, a known meter, an id of the form
 * `${jobId}:${meter}:<seq>` (or `${jobId}:job:<id>` for what a job reports itself, source `job`)
 * of at most 256 characters, a bigint quantity in [0, 2^63 − 1], a non-negative integer time.
 * Runs for every event of every batch, so it allocates nothing on the good path.
 * @throws StoreError naming the event and the field.
 */
export function validateUsageEvent(event: UsageEvent): void {
  if (typeof event !== "object" || event === null) fail(event, "not an object");
  const { id, jobId, meter, quantity, time } = event;
  if (typeof id !== "string" || id === "") fail(event, "empty id");
  if (typeof jobId !== "string" || jobId === "") fail(event, "empty jobId");
  if (typeof event.source !== "string" || event.source === "") fail(event, "empty source");
  if (typeof meter !== "string" || !isMeter(meter)) fail(event, `unknown meter ${String(meter)}`);
  if (id.length > MAX_EVENT_ID_CHARS) fail(event, `id longer than ${MAX_EVENT_ID_CHARS} characters`);
  if (!hasIdPrefix(id, jobId, meter) && !(event.source === JOB_SOURCE && hasIdPrefix(id, jobId, "job"))) {
    const expected = `id must be "${jobId}:${meter}:<seq>"`;
    fail(event, event.source === JOB_SOURCE ? `${expected} or "${jobId}:job:<id>"` : expected);
  }
  if (typeof quantity !== "bigint") fail(event, "quantity must be a bigint");
  if (quantity < 0n) fail(event, "negative quantity");
  if (quantity > MAX_QUANTITY) fail(event, "quantity above 2^63 - 1");
  if (!Number.isSafeInteger(time) || time < 0) fail(event, "time must be a non-negative integer (epoch ms)");
  if (event.gpuClass !== undefined && (typeof event.gpuClass !== "string" || event.gpuClass === "")) {
    fail(event, "gpuClass must be a non-empty string when present");
  }
}

/** `id` is `${jobId}:${middle}:` followed by at least one character. */
function hasIdPrefix(id: string, jobId: string, middle: string): boolean {
  const colon = jobId.length;
  const second = colon + 1 + middle.length;
  return (
    id.length > second + 1 &&
    id.charCodeAt(colon) === 58 &&
    id.charCodeAt(second) === 58 &&
    id.startsWith(jobId) &&
    id.startsWith(middle, colon + 1)
  );
}

function fail(event: UsageEvent, problem: string): never {
  const id = typeof event === "object" && event !== null ? event.id : undefined;
  throw new StoreError(`invalid usage event ${JSON.stringify(id ?? null)}: ${problem}`, { id, problem });
}
