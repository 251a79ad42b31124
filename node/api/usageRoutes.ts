import type { FastifyInstance, onRequestHookHandler } from "fastify";
import type { Store } from "../../marketplace/store/openStore.ts";
import { insertUsageEvents } from "../store/insertUsageEvents.ts";
import { getJob } from "../store/jobRecords.ts";
import { USAGE_BODY_LIMIT_BYTES } from "./constants.ts";
import { parseUsageBatch } from "./parseUsageBatch.ts";
import { usageEventStatuses } from "./usageEventStatuses.ts";

/**
 * `POST /v1/usage` (admin token): ingests usage events into the ledger, the same way the node's
 * own meters do (insertUsageEvents). 200 `{results: [{id, status: "inserted" | "duplicate"}]}`, one
 * per event in order: a duplicate (an id seen before, ever, or earlier in the batch) never rejects
 * the batch. An invalid event is a 400 naming its index and the problem, and nothing of the batch
 * is written: checks run before the one transaction that stores it.
 */
export function registerUsageRoutes(
  app: FastifyInstance,
  deps: { store: Store; requireAdmin: onRequestHookHandler },
): void {
  const { store } = deps;
  app.post(
    "/v1/usage",
    // The token is checked before the body is read, so unauthenticated clients cannot make us parse a MiB.
    { onRequest: deps.requireAdmin, bodyLimit: USAGE_BODY_LIMIT_BYTES },
    async (request, reply) => {
      const known = new Map<string, boolean>();
      const knownJob = (jobId: string) => {
        let found = known.get(jobId);
        if (found === undefined) {
          found = getJob(store, jobId) !== undefined;
          known.set(jobId, found);
        }
        return found;
      };
      const parsed = parseUsageBatch(request.body, knownJob);
      if (!parsed.ok) {
        const where = parsed.index === null ? "" : `events[${parsed.index}]: `;
        return reply
          .status(400)
          .send({ error: "bad-request", message: `${where}${parsed.problem}`, index: parsed.index });
      }
      const result = insertUsageEvents(store, parsed.events);
      return { results: usageEventStatuses(parsed.events, result) };
    },
  );
}
