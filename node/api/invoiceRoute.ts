import type { z } from "zod";
import { buildInvoice } from "../../marketplace/invoice/buildInvoice.ts";
import { InvoiceError } from "../../marketplace/invoice/errors.ts";
import { invoiceAnswer } from "../../marketplace/messages/operatorApi.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { jobAgreement } from "../store/jobAgreement.ts";
import { getJob } from "../store/jobRecords.ts";
import { listNoteVouchers } from "../store/noteVouchers.ts";
import { jobVouchers, listNotes } from "../store/receiptRecords.ts";
import { storedNotePayload } from "../store/storedNotePayload.ts";
import { ERROR_ANSWERS } from "./constants.ts";
import type { ZodFastifyInstance } from "./zodSchemas.ts";

/**
 * `GET /v1/jobs/:id/invoice`: the job's invoice built by the same `buildInvoice` the submitter's
 * `gridspot job invoice` uses, from the notes the payer signed a voucher for (the submitter builds
 * from the same notes: those it accepted, and the one it paid its budget for), those vouchers with
 * the transactions that redeemed them, and the job's agreement. A voucher for exactly the payer's
 * budget, less than its note, shows as the invoice's `budget_cap` line. 409 when the job's stored
 * agreement cannot be read or its notes do not add up. The answer is an `invoiceAnswer`
 * (marketplace/messages/operatorApi.ts).
 */
export function registerInvoiceRoute(
  app: ZodFastifyInstance,
  deps: { store: Store; params: z.ZodType<{ id: string }> },
): void {
  const { store } = deps;
  app.get(
    "/v1/jobs/:id/invoice",
    { schema: { params: deps.params, response: { 200: invoiceAnswer, ...ERROR_ANSWERS } } },
    async (request, reply) => {
      const job = getJob(store, request.params.id);
      if (job === undefined) return reply.status(404).send({ error: "not-found", message: "no such job" });
      const agreement = jobAgreement(job);
      if (agreement === undefined) {
        return reply
          .status(409)
          .send({ error: "no-agreement", message: "the agreement stored for this job cannot be read" });
      }
      // The notes the payer paid: one voucher row each (migration 7), for the note's amount, or for
      // less (the payer's budget, reached in that note: buildInvoice caps the bill at it).
      const paid = new Set(listNoteVouchers(store, job.jobId).map((v) => v.noteSeq));
      const notes = listNotes(store, job.jobId).filter((n) => paid.has(n.seq));
      try {
        const invoice = buildInvoice({
          agreement,
          notes: notes.map(storedNotePayload),
          // Notes of equal amount are signed with one and the same voucher (same typed data, same
          // signature): it is listed once, under the first of them, as the submitter lists it.
          vouchers: jobVouchers(store, job.jobId).map((v) => ({
            cumulativeAmount: v.cumulativeAmount,
            noteSeq: v.noteSeq,
            redeemTx: v.redeemTx,
          })),
        });
        return {
          ...invoice,
          run: {
            runtime: job.runtime,
            imageDigest: job.imageDigest,
            startedAt: job.startedAt,
            endedAt: job.endedAt,
            reasonCode: job.reasonCode,
          },
        };
      } catch (error) {
        if (!(error instanceof InvoiceError)) throw error;
        return reply.status(409).send({ error: "invoice", message: error.message });
      }
    },
  );
}
