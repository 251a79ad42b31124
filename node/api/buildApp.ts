import { timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { z } from "zod";
import { toJsonValue } from "../../marketplace/messages/json.ts";
import {
  type nodeStatus,
  providerStatus,
  redeemAnswer,
  type redemption,
} from "../../marketplace/messages/operatorApi.ts";
import { id } from "../../marketplace/messages/primitives.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import type { ReconcileReport } from "../settle/reconcileTypes.ts";
import { getJob, listJobs } from "../store/jobRecords.ts";
import { jobVouchers, listNotes, receiptStats } from "../store/receiptRecords.ts";
import { settlementStats } from "../store/redemptionQueue.ts";
import { usageTotals } from "../store/usageTotals.ts";
import { ERROR_ANSWERS } from "./constants.ts";
import { registerInvoiceRoute } from "./invoiceRoute.ts";
import { renderMetrics } from "./metrics.ts";
import { registerReconcileRoute } from "./reconcileRoute.ts";
import { registerUsageRoutes } from "./usageRoutes.ts";
import { useZodSchemas } from "./zodSchemas.ts";

export type ApiComponents = {
  store: Store;
  /** What the node says of itself in `GET /v1/status` (the route adds the settlement). */
  status: () => z.input<typeof nodeStatus>;
  /** Redeems pending vouchers now (an admin write): what it sent, or nothing when nothing was due. */
  redeem: () => Promise<z.input<typeof redemption> | null | undefined>;
  /** Required in `Authorization: Bearer <token>` for writes; writes are off without one. */
  adminToken: string | undefined;
  /** Reconciles ledger, notes, vouchers and the chain (GET /v1/reconcile); 503 without it. */
  reconcile?: (() => Promise<ReconcileReport>) | undefined;
};

/** `:id` of the job routes: a job id as we mint them. */
const jobIdParams = z.object({ id });

/**
 * The provider operator API (HOUSE-STYLE: app.ts builds, server.ts listens). Read endpoints are
 * open on the loopback interface it binds to; writes need the admin token. 5xx details stay in the
 * log, never in the response.
 */
export function buildApp(components: ApiComponents): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  const api = useZodSchemas(app);
  const { store } = components;

  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) {
      process.stderr.write(`gridspot:node:api ${error.stack ?? error.message}\n`);
      return reply.status(500).send({ error: "internal", message: "internal error" });
    }
    return reply
      .status(status)
      .send({ error: error.validation ? "bad-request" : "error", message: error.message });
  });

  const requireAdmin = async (request: FastifyRequest, reply: FastifyReply) => {
    const token = components.adminToken;
    const given = Buffer.from((request.headers.authorization ?? "").replace(/^Bearer /, ""));
    const expected = Buffer.from(token ?? "");
    // An empty token (GRIDSPOT_ADMIN_TOKEN="") keeps writes off; lengths are compared in bytes,
    // which timingSafeEqual needs equal.
    const ok = expected.length > 0 && given.length === expected.length && timingSafeEqual(given, expected);
    if (!ok) return reply.status(401).send({ error: "unauthorized", message: "admin token required" });
  };

  // Settlement comes from the ledger itself: vouchers pending, their value, the nearest deadline.
  api.get("/v1/status", { schema: { response: { 200: providerStatus, ...ERROR_ANSWERS } } }, async () => ({
    ...components.status(),
    settlement: settlementStats(store),
  }));

  api.get("/v1/jobs", async () => ({
    jobs: toJsonValue(listJobs(store).map(({ agreement: _a, ...job }) => job)),
  }));

  api.get("/v1/jobs/:id", { schema: { params: jobIdParams } }, async (request, reply) => {
    const job = getJob(store, request.params.id);
    if (job === undefined) return reply.status(404).send({ error: "not-found", message: "no such job" });
    const { agreement: _a, ...rest } = job;
    return toJsonValue({
      ...rest,
      usage: usageTotals(store, job.jobId),
      notes: listNotes(store, job.jobId).map(({ envelope: _e, ...n }) => n),
      vouchers: jobVouchers(store, job.jobId),
    });
  });

  api.post(
    "/v1/redeem",
    { preHandler: requireAdmin, schema: { response: { 200: redeemAnswer, ...ERROR_ANSWERS } } },
    async () => ({ result: (await components.redeem()) ?? null }),
  );

  registerUsageRoutes(api, { store, requireAdmin });
  registerReconcileRoute(api, { reconcile: components.reconcile });
  registerInvoiceRoute(api, { store, params: jobIdParams });

  api.get("/metrics", async (_request, reply) => {
    reply.type("text/plain; version=0.0.4");
    return renderMetrics(store, receiptStats(store), settlementStats(store));
  });

  return app;
}
