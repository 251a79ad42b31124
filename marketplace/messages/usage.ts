import { z } from "zod";
import { METERS } from "../rating/meters.ts";

/** Most usage events one `POST /v1/usage` may carry. */
export const MAX_USAGE_BATCH_EVENTS = 1_000;

/** Largest quantity one event may carry: what SQLite's 64-bit INTEGER holds. */
export const MAX_USAGE_QUANTITY = 2n ** 63n - 1n;

/** Longest event id: debit notes quote the first and last event id in at most 256 characters. */
export const MAX_USAGE_EVENT_ID_CHARS = 256;

/** `source` of the usage a job reports itself (GRIDSPOT_USAGE_FILE): its ids are `${jobId}:job:<id>`. */
export const JOB_SOURCE = "job";

const QUANTITY_WORDS = "quantity must be a non-negative integer as a decimal string of at most 19 digits";
const TIME_WORDS = "time must be a non-negative integer (epoch ms)";
const GPU_CLASS_WORDS = "gpuClass must be a non-empty string when present";

const words = (message: string) => ({ errorMap: () => ({ message }) });

/** A non-empty string, each problem in words naming the field. */
const text = (field: string) => z.string({ message: `${field} must be a string` }).min(1, `empty ${field}`);

/**
 * One measured amount of usage (DESIGN.md §5), as the node's meters record it and as `POST /v1/usage`
 * carries it. `id` is `${jobId}:${meter}:<seq>` (or `${jobId}:job:<id>` for what a job reports
 * itself, source `job`), deterministic per logical event, so storing a retried event is a no-op.
 * Quantities travel as decimal strings (exact beyond 2^53) and are bigints in process; times are
 * integers. Unknown fields are refused, so a misspelt one never goes unnoticed.
 */
export const usageEvent = z
  .object(
    {
      id: text("id").max(MAX_USAGE_EVENT_ID_CHARS, `id longer than ${MAX_USAGE_EVENT_ID_CHARS} characters`),
      jobId: text("jobId"),
      /** Who measured it: `"node"` for the provider's own meters, `"job"` for the job's own lines. */
      source: text("source"),
      meter: z.enum(METERS, {
        errorMap: (_issue, ctx) => ({ message: `unknown meter ${String(ctx.data)}` }),
      }),
      /** Non-negative, in the meter's unit (see `METERS`), at most 2^63 − 1. */
      quantity: z
        .union(
          [
            z.bigint().nonnegative("negative quantity"),
            z
              .string()
              .regex(/^(0|[1-9][0-9]{0,18})$/, QUANTITY_WORDS)
              .transform((s) => BigInt(s)),
          ],
          words(QUANTITY_WORDS),
        )
        .refine((q) => q <= MAX_USAGE_QUANTITY, "quantity above 2^63 - 1"),
      /** Wall-clock time of the measurement, epoch milliseconds. */
      time: z
        .number(words(TIME_WORDS))
        .int(TIME_WORDS)
        .min(0, TIME_WORDS)
        .max(Number.MAX_SAFE_INTEGER, TIME_WORDS),
      /** For `gpu_ms`: the class of the GPUs measured, when known. */
      gpuClass: z.string(words(GPU_CLASS_WORDS)).min(1, GPU_CLASS_WORDS).optional(),
    },
    {
      errorMap: (issue, ctx) =>
        issue.code === z.ZodIssueCode.unrecognized_keys
          ? { message: `unknown field ${issue.keys[0] ?? ""}` }
          : issue.code === z.ZodIssueCode.invalid_type
            ? { message: "not an object" }
            : { message: ctx.defaultError },
    },
  )
  .strict()
  .superRefine((event, ctx) => {
    const { id, jobId, meter, source } = event;
    if (hasIdPrefix(id, jobId, meter) || (source === JOB_SOURCE && hasIdPrefix(id, jobId, "job"))) return;
    const expected = `id must be "${jobId}:${meter}:<seq>"`;
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ["id"],
      message: source === JOB_SOURCE ? `${expected} or "${jobId}:job:<id>"` : expected,
    });
  });
export type UsageEvent = z.output<typeof usageEvent>;

/** `POST /v1/usage`'s body: at most MAX_USAGE_BATCH_EVENTS events, stored all or none. */
export const usageBatch = z
  .object(
    {
      events: z
        .array(usageEvent, {
          errorMap: (issue, ctx) =>
            issue.code === z.ZodIssueCode.too_big
              ? {
                  message: `at most ${MAX_USAGE_BATCH_EVENTS} events per request, got ${(ctx.data as unknown[]).length}`,
                }
              : { message: "events must be an array" },
        })
        .max(MAX_USAGE_BATCH_EVENTS),
    },
    {
      errorMap: (issue, ctx) =>
        issue.code === z.ZodIssueCode.unrecognized_keys
          ? { message: `unknown field ${issue.keys[0] ?? ""}` }
          : issue.code === z.ZodIssueCode.invalid_type
            ? { message: "the body must be a JSON object {events: [...]}" }
            : { message: ctx.defaultError },
    },
  )
  .strict();
export type UsageBatch = z.output<typeof usageBatch>;

/**
 * One event's fate in a batch: `inserted` for the occurrence that was stored, `duplicate` for an id
 * stored before or repeated earlier in the same batch.
 */
export const usageEventStatus = z.object({ id: z.string(), status: z.enum(["inserted", "duplicate"]) });
export type UsageEventStatus = z.output<typeof usageEventStatus>;

/** `POST /v1/usage`'s answer: one status per event, in the batch's order. */
export const usageResults = z.object({ results: z.array(usageEventStatus) });
export type UsageResults = z.output<typeof usageResults>;

/** `id` is `${jobId}:${middle}:` followed by at least one character. Allocates nothing. */
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
