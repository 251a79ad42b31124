import { usageEvent } from "../../marketplace/messages/usage.ts";
import { StoreError } from "../../marketplace/store/errors.ts";
import type { UsageEvent } from "../meter/types.ts";

/**
 * Checks one event before it is stored, with the schema `POST /v1/usage` reads it with
 * (`usageEvent`: non-empty ids, a known meter, an id of the form `${jobId}:${meter}:<seq>` or
 * `${jobId}:job:<id>` for source `job`, of at most 256 characters, a quantity in [0, 2^63 − 1], a
 * non-negative integer time, no unknown field), and what only the ledger says: in process, a
 * quantity is a bigint.
 * @throws StoreError naming the event and the first problem.
 */
export function validateUsageEvent(event: UsageEvent): void {
  if (typeof event === "object" && event !== null && typeof event.quantity !== "bigint")
    fail(event, "quantity must be a bigint");
  const parsed = usageEvent.safeParse(event);
  if (!parsed.success) fail(event, parsed.error.issues[0]?.message ?? "invalid");
}

function fail(event: UsageEvent, problem: string): never {
  const id = typeof event === "object" && event !== null ? event.id : undefined;
  throw new StoreError(`invalid usage event ${JSON.stringify(id ?? null)}: ${problem}`, { id, problem });
}
