import { StoreError } from "../../marketplace/store/errors.ts";
import type { UsageEvent } from "../meter/types.ts";
import { validateUsageEvent } from "../store/validateUsageEvent.ts";
import { MAX_USAGE_BATCH_EVENTS } from "./constants.ts";

/** The events of a batch, or the first problem with it (`index` null: the body itself). */
export type ParsedUsageBatch =
  | { ok: true; events: UsageEvent[] }
  | { ok: false; index: number | null; problem: string };

const FIELDS = new Set(["id", "jobId", "source", "meter", "quantity", "time", "gpuClass"]);

/**
 * Reads a `POST /v1/usage` body `{events: [{id, jobId, source, meter, quantity, time, gpuClass?}]}`
 * with at most MAX_USAGE_BATCH_EVENTS events: quantities are decimal strings (exact beyond 2^53),
 * times integers (epoch ms). Each event must pass the ledger's own checks (validateUsageEvent) and
 * `admit` (which says why an event may not be taken: unknown job, a meter it may not report…).
 * Unknown fields are refused, so a misspelt one never goes unnoticed.
 */
export function parseUsageBatch(
  body: unknown,
  admit: (event: UsageEvent) => string | undefined,
): ParsedUsageBatch {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, index: null, problem: "the body must be a JSON object {events: [...]}" };
  }
  const { events: raw, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) return { ok: false, index: null, problem: `unknown field ${extra[0]}` };
  if (!Array.isArray(raw)) return { ok: false, index: null, problem: "events must be an array" };
  if (raw.length > MAX_USAGE_BATCH_EVENTS) {
    return {
      ok: false,
      index: null,
      problem: `at most ${MAX_USAGE_BATCH_EVENTS} events per request, got ${raw.length}`,
    };
  }
  const events: UsageEvent[] = [];
  for (const [index, item] of raw.entries()) {
    const parsed = parseEvent(item);
    if (typeof parsed === "string") return { ok: false, index, problem: parsed };
    try {
      validateUsageEvent(parsed);
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      return { ok: false, index, problem: String(error.facts.problem ?? error.message) };
    }
    const refused = admit(parsed);
    if (refused !== undefined) return { ok: false, index, problem: refused };
    events.push(parsed);
  }
  return { ok: true, events };
}

function parseEvent(item: unknown): UsageEvent | string {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return "not an object";
  const e = item as Record<string, unknown>;
  for (const key of Object.keys(e)) if (!FIELDS.has(key)) return `unknown field ${key}`;
  for (const key of ["id", "jobId", "source", "meter"] as const) {
    if (typeof e[key] !== "string") return `${key} must be a string`;
  }
  if (typeof e.quantity !== "string" || !/^(0|[1-9][0-9]{0,18})$/.test(e.quantity)) {
    return "quantity must be a non-negative integer as a decimal string of at most 19 digits";
  }
  if (typeof e.time !== "number") return "time must be an integer (epoch ms)";
  if (e.gpuClass !== undefined && typeof e.gpuClass !== "string") return "gpuClass must be a string";
  const event: UsageEvent = {
    id: e.id as string,
    jobId: e.jobId as string,
    source: e.source as string,
    meter: e.meter as UsageEvent["meter"],
    quantity: BigInt(e.quantity),
    time: e.time,
  };
  if (e.gpuClass !== undefined) event.gpuClass = e.gpuClass as string;
  return event;
}
