import type { onRequestHookHandler } from "fastify";
import { usageBatch, usageResults } from "../../marketplace/messages/usage.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import type { UsageEvent } from "../meter/types.ts";
import { insertUsageEvents } from "../store/insertUsageEvents.ts";
import { jobAgreement } from "../store/jobAgreement.ts";
import { getJob } from "../store/jobRecords.ts";
import { lastNoteAt } from "../store/lastNoteAt.ts";
import { ERROR_ANSWERS, USAGE_BODY_LIMIT_BYTES } from "./constants.ts";
import { RequestSchemaError } from "./errors.ts";
import { usageEventStatuses } from "./usageEventStatuses.ts";
import type { ZodFastifyInstance } from "./zodSchemas.ts";

/**
 * `POST /v1/usage` (admin token): ingests usage events into the ledger, the same way the node's
 * own meters do (insertUsageEvents). 200 `{results: [{id, status: "inserted" | "duplicate"}]}`, one
 * per event in order: a duplicate (an id seen before, ever, or earlier in the batch) never rejects
 * the batch. An invalid event is a 400 naming its index and the problem, and nothing of the batch
 * is written: checks run before the one transaction that stores it. The body is a `usageBatch`
 * (marketplace/messages/usage.ts): the events the schema refuses are found first, then the ones
 * `reportRules` refuses.
 *
 * Reported usage is what a payer is billed for on the reporter's word, so it is taken only where the
 * payer agreed to that: for a job that is running, on a meter its agreement names as self-reported
 * (`selfReported`), dated no earlier than the job's previous note (or its start), so a report can
 * neither add to a bill already cut nor invent CPU time for a job that sleeps.
 */
export function registerUsageRoutes(
  app: ZodFastifyInstance,
  deps: { store: Store; requireAdmin: onRequestHookHandler },
): void {
  const { store } = deps;
  app.post(
    "/v1/usage",
    {
      // The token is checked before the body is read, so unauthenticated clients cannot make us parse a MiB.
      onRequest: deps.requireAdmin,
      bodyLimit: USAGE_BODY_LIMIT_BYTES,
      schema: { body: usageBatch, response: { 200: usageResults, ...ERROR_ANSWERS } },
      // A refused body is answered here, with the index of the first event refused.
      attachValidation: true,
    },
    async (request, reply) => {
      const refuse = (index: number | null, problem: string) =>
        reply.status(400).send({
          error: "bad-request",
          message: `${index === null ? "" : `events[${index}]: `}${problem}`,
          index,
        });
      const invalid = request.validationError;
      if (invalid !== undefined) {
        if (!(invalid instanceof RequestSchemaError)) throw invalid;
        const [issue] = invalid.issues;
        const [field, index] = issue?.path ?? [];
        return refuse(
          field === "events" && typeof index === "number" ? index : null,
          issue?.message ?? "invalid body",
        );
      }
      const { events } = request.body;
      const rules = new Map<string, ReturnType<typeof reportRules>>();
      for (const [index, event] of events.entries()) {
        let rule = rules.get(event.jobId);
        if (rule === undefined) {
          rule = reportRules(store, event.jobId);
          rules.set(event.jobId, rule);
        }
        const refused = rule(event);
        if (refused !== undefined) return refuse(index, refused);
      }
      const result = insertUsageEvents(store, events);
      return { results: usageEventStatuses(events, result) };
    },
  );
}

/** Why one job refuses a reported event, or undefined when it takes it (see registerUsageRoutes). */
function reportRules(store: Store, jobId: string): (event: UsageEvent) => string | undefined {
  const job = getJob(store, jobId);
  if (job === undefined) return () => `unknown job ${jobId}`;
  if (job.status !== "running")
    return () => `job ${jobId} is ${job.status}: usage is taken only while it runs`;
  const allowed: readonly string[] = jobAgreement(job)?.selfReported ?? [];
  const notBefore = lastNoteAt(store, jobId) ?? job.startedAt;
  return (event) => {
    if (!allowed.includes(event.meter))
      return `${event.meter} is not self-reported in job ${jobId}'s agreement (it names ${allowed.length === 0 ? "none" : allowed.join(", ")})`;
    if (event.time < notBefore)
      return `dated ${event.time}, before the job's previous note or start (${notBefore}): that bill is cut`;
    return undefined;
  };
}
