import type { FastifyInstance } from "fastify";
import { buildInvoice } from "../../marketplace/invoice/buildInvoice.ts";
import { InvoiceError } from "../../marketplace/invoice/errors.ts";
import { toJsonValue } from "../../marketplace/messages/json.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { getJob } from "../store/jobRecords.ts";
import { getJobTerms } from "../store/jobTerms.ts";
import { jobVouchers, listNotes } from "../store/receiptRecords.ts";
import { redeemTxFor } from "../store/redeemTxFor.ts";
import { storedNotePayload } from "../store/storedNotePayload.ts";

/**
 * `GET /v1/jobs/:id/invoice`: the job's invoice built by the same `buildInvoice` the submitter's
 * `gridspot job invoice` uses, from the notes the payer signed for (those at or below the job's
 * highest voucher; the submitter builds from the notes it accepted), their vouchers with the
 * transactions that redeemed them, and the stored agreement. 409 when the job has no stored
 * agreement (it started before agreements were kept) or its notes do not add up.
 */
export function registerInvoiceRoute(
  app: FastifyInstance,
  deps: { store: Store; params: Record<string, unknown> },
): void {
  const { store } = deps;
  app.get<{ Params: { id: string } }>(
    "/v1/jobs/:id/invoice",
    { schema: { params: deps.params } },
    async (request, reply) => {
      const job = getJob(store, request.params.id);
      if (job === undefined) return reply.status(404).send({ error: "not-found", message: "no such job" });
      const agreement = getJobTerms(store, job.jobId);
      if (agreement === undefined) {
        return reply
          .status(409)
          .send({ error: "no-agreement", message: "no agreement is stored for this job" });
      }
      // Vouchers are cumulative: every note up to the job's highest voucher was signed for, one
      // voucher per note, even where the ledger kept a single row for two equal amounts.
      let signedUpTo = -1n;
      for (const v of jobVouchers(store, job.jobId)) {
        if (v.cumulativeAmount > signedUpTo) signedUpTo = v.cumulativeAmount;
      }
      const signed = listNotes(store, job.jobId).filter((n) => n.channelCumulative <= signedUpTo);
      try {
        const invoice = buildInvoice({
          agreement,
          notes: signed.map(storedNotePayload),
          vouchers: signed.map((n) => ({
            cumulativeAmount: n.channelCumulative,
            noteSeq: n.seq,
            redeemTx: redeemTxFor(store, job.channelId, n.channelCumulative),
          })),
        });
        return toJsonValue(invoice);
      } catch (error) {
        if (!(error instanceof InvoiceError)) throw error;
        return reply.status(409).send({ error: "invoice", message: error.message });
      }
    },
  );
}
