import { timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { toJsonValue } from "../../marketplace/messages/json.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import type { ReconcileReport } from "../settle/reconcileTypes.ts";
import { getJob, listJobs } from "../store/jobRecords.ts";
import { jobVouchers, listNotes, receiptStats } from "../store/receiptRecords.ts";
import { settlementStats } from "../store/redemptionQueue.ts";
import { usageTotals } from "../store/usageTotals.ts";
import { registerInvoiceRoute } from "./invoiceRoute.ts";
import { renderMetrics } from "./metrics.ts";
import { registerReconcileRoute } from "./reconcileRoute.ts";
import { registerUsageRoutes } from "./usageRoutes.ts";

export type ApiComponents = {
  store: Store;
  status: () => Record<string, unknown>;
  /** Redeems pending vouchers now (an admin write). */
  redeem: () => Promise<unknown>;
  /** Required in `Authorization: Bearer <token>` for writes; writes are off without one. */
  adminToken: string | undefined;
  /** Reconciles ledger, notes, vouchers and the chain (GET /v1/reconcile); 503 without it. */
  reconcile?: (() => Promise<ReconcileReport>) | undefined;
};

const jobIdParams = {
  type: "object",
  properties: { id: { type: "string", pattern: "^[A-Za-z0-9_-]{8,64}$" } },
  required: ["id"],
} as const;

/**
 * The provider operator API (HOUSE-STYLE: app.ts builds, server.ts listens). Read endpoints are
 * open on the loopback interface it binds to; writes need the admin token. 5xx details stay in the
 * log, never in the response.
 */
export function buildApp(components: ApiComponents): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
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
  app.get("/v1/status", async () =>
    toJsonValue({ ...components.status(), settlement: settlementStats(store) }),
  );

  app.get("/v1/jobs", async () => ({
    jobs: toJsonValue(listJobs(store).map(({ agreement: _a, ...job }) => job)),
  }));

  app.get<{ Params: { id: string } }>(
    "/v1/jobs/:id",
    { schema: { params: jobIdParams } },
    async (request, reply) => {
      const job = getJob(store, request.params.id);
      if (job === undefined) return reply.status(404).send({ error: "not-found", message: "no such job" });
      const { agreement: _a, ...rest } = job;
      return toJsonValue({
        ...rest,
        usage: usageTotals(store, job.jobId),
        notes: listNotes(store, job.jobId).map(({ envelope: _e, ...n }) => n),
        vouchers: jobVouchers(store, job.jobId),
      });
    },
  );

  app.post("/v1/redeem", { preHandler: requireAdmin }, async () =>
    toJsonValue({ result: (await components.redeem()) ?? null }),
  );

  registerUsageRoutes(app, { store, requireAdmin });
  registerReconcileRoute(app, { reconcile: components.reconcile });
  registerInvoiceRoute(app, { store, params: jobIdParams });

  app.get("/metrics", async (_request, reply) => {
    reply.type("text/plain; version=0.0.4");
    return renderMetrics(store, receiptStats(store), settlementStats(store));
  });

  return app;
}
