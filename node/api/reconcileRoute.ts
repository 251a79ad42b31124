import { toJsonValue } from "../../marketplace/messages/json.ts";
import type { ReconcileReport } from "../settle/reconcileTypes.ts";
import type { ZodFastifyInstance } from "./zodSchemas.ts";

/**
 * `GET /v1/reconcile`: the ledger, notes, vouchers and on-chain redemptions of every channel, with
 * each difference (see `reconcile`). 503 when the node has no chain to read, or cannot read it now;
 * the chain error goes to the log only (an RPC URL may carry a key).
 */
export function registerReconcileRoute(
  app: ZodFastifyInstance,
  deps: { reconcile: (() => Promise<ReconcileReport>) | undefined },
): void {
  app.get("/v1/reconcile", async (_request, reply) => {
    if (deps.reconcile === undefined) {
      return reply.status(503).send({ error: "unavailable", message: "reconciliation needs the chain" });
    }
    let report: ReconcileReport;
    try {
      report = await deps.reconcile();
    } catch (error) {
      process.stderr.write(
        `gridspot:node:api reconcile failed: ${(error as Error).message.split("\n")[0]}\n`,
      );
      return reply
        .status(503)
        .send({ error: "chain-unavailable", message: "cannot read the channels on-chain now" });
    }
    return toJsonValue(report);
  });
}
