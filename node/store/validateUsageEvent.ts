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
 * @throws StoreError naming the event and the field.
 */
export function validateUsageEvent(event: UsageEvent): void {
  const fail = (problem: string): never => {
    throw new StoreError(`invalid usage event ${JSON.stringify(event?.id ?? null)}: ${problem}`, {
      id: event?.id,
      problem,
    });
  };
  if (typeof event !== "object" || event === null) fail("not an object");
  if (typeof event.id !== "string" || event.id === "") fail("empty id");
  if (typeof event.jobId !== "string" || event.jobId === "") fail("empty jobId");
  if (typeof event.source !== "string" || event.source === "") fail("empty source");
  if (typeof event.meter !== "string" || !isMeter(event.meter)) fail(`unknown meter ${String(event.meter)}`);
  if (event.id.length > MAX_EVENT_ID_CHARS) fail(`id longer than ${MAX_EVENT_ID_CHARS} characters`);
  const prefix = `${event.jobId}:${event.meter}:`;
  const jobPrefix = `${event.jobId}:job:`;
  const hasPrefix = (p: string) => event.id.startsWith(p) && event.id.length > p.length;
  if (!hasPrefix(prefix) && !(event.source === JOB_SOURCE && hasPrefix(jobPrefix))) {
    fail(`id must be "${prefix}<seq>"${event.source === JOB_SOURCE ? ` or "${jobPrefix}<id>"` : ""}`);
  }
  if (typeof event.quantity !== "bigint") fail("quantity must be a bigint");
  if (event.quantity < 0n) fail("negative quantity");
  if (event.quantity > MAX_QUANTITY) fail("quantity above 2^63 - 1");
  if (!Number.isSafeInteger(event.time) || event.time < 0)
    fail("time must be a non-negative integer (epoch ms)");
  if (event.gpuClass !== undefined && (typeof event.gpuClass !== "string" || event.gpuClass === "")) {
    fail("gpuClass must be a non-empty string when present");
  }
}
