import Fastify, { type FastifyInstance } from "fastify";
import { BaseError } from "../errors/base.ts";
import { summarizeZodError } from "../messages/envelope.ts";
import { toJsonValue } from "../messages/json.ts";
import { agentSubmitRequest } from "./agentRequests.ts";
import type { Agent } from "./createAgent.ts";
import { agentDeployRequest } from "./endpointRequests.ts";

/** A submit's inputs manifest may list MAX_JOB_FILES entries with their paths: a few MiB at most. */
const BODY_LIMIT = 8 * 1024 * 1024;

/**
 * The agent's control API, served on its Unix socket (owner-only, in the 0700 data dir): the CLI's
 * `job submit --detach`, `job cancel`, `agent status`. Errors come back as `{error, message}` in words.
 */
export function buildAgentApp(
  agent: Pick<Agent, "submit" | "cancel" | "status" | "deploy" | "endpoints">,
): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT });

  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    if (error instanceof BaseError)
      return reply.status(422).send({
        error: error.name,
        message: error.shortMessage,
        ...(error.details === undefined ? {} : { details: error.details }),
      });
    const status = error.statusCode ?? 500;
    if (status >= 500) process.stderr.write(`gridspot:agent ${error.stack ?? error.message}\n`);
    return reply
      .status(status)
      .send({ error: status >= 500 ? "internal" : "bad-request", message: error.message });
  });

  app.get("/v1/status", async () => agent.status());

  app.post("/v1/jobs", async (request, reply) => {
    const parsed = agentSubmitRequest.safeParse(request.body);
    if (!parsed.success)
      return reply.status(400).send({ error: "bad-request", message: summarizeZodError(parsed.error) });
    return toJsonValue(await agent.submit(parsed.data));
  });

  app.post<{ Params: { id: string }; Body: { reason?: unknown } }>(
    "/v1/jobs/:id/cancel",
    async (request, reply) => {
      const reason =
        typeof request.body?.reason === "string"
          ? request.body.reason.slice(0, 200)
          : "cancelled by the user";
      if (!agent.cancel(request.params.id, reason))
        return reply
          .status(404)
          .send({ error: "not-found", message: `the agent runs no job ${request.params.id}` });
      return { cancelled: true };
    },
  );

  app.post("/v1/endpoints", async (request, reply) => {
    const parsed = agentDeployRequest.safeParse(request.body);
    if (!parsed.success)
      return reply.status(400).send({ error: "bad-request", message: summarizeZodError(parsed.error) });
    return toJsonValue(await agent.deploy(parsed.data));
  });

  app.get("/v1/endpoints", async () => toJsonValue({ endpoints: agent.endpoints.list() }));

  app.get<{ Params: { id: string } }>("/v1/endpoints/:id", async (request, reply) => {
    const view = agent.endpoints.view(request.params.id);
    if (view === undefined)
      return reply.status(404).send({
        error: "not-found",
        message: `no endpoint ${request.params.id} was deployed from this data dir`,
      });
    return toJsonValue(view);
  });

  app.delete<{ Params: { id: string } }>("/v1/endpoints/:id", async (request, reply) => {
    const told = agent.endpoints.delete(request.params.id, "endpoint deleted by its payer");
    if (told === undefined)
      return reply.status(404).send({
        error: "not-found",
        message: `no endpoint ${request.params.id} was deployed from this data dir`,
      });
    return { deleted: true, jobs: told };
  });

  return app;
}
