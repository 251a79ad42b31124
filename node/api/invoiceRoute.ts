import type { FastifyInstance } from "fastify";
import { buildInvoice } from "../../marketplace/invoice/buildInvoice.ts";
import { InvoiceError } from "../../marketplace/invoice/errors.ts";
import { toJsonValue } from "../../marketplace/messages/json.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { getJob } from "../store/jobRecords.ts";
import { getJobTerms } from "../store/jobTerms.ts";
import { listNoteVouchers } from "../store/noteVouchers.ts";
import { listNotes } from "../store/receiptRecords.ts";
import { redeemTxFor } from "../store/redeemTxFor.ts";
import { storedNotePayload } from "../store/storedNotePayload.ts";

/**
 * `GET /v1/jobs/:id/invoice`: the job's invoice built by the same `buildInvoice` the submitter's
 * `gridspot job invoice` uses, from the notes the payer signed a voucher for (the submitter builds
 * from the notes it accepted), those vouchers with the transactions that redeemed them, and the
 * stored agreement. 409 when the job has no stored
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
      // The notes the payer signed: one voucher row each (migration 7).
      // A voucher for less than its note (the payer's budget, reached in it) does not sign that note.
      const signedAmounts = new Map(
        listNoteVouchers(store, job.jobId).map((v) => [v.noteSeq, v.cumulativeAmount]),
      );
      const signed = listNotes(store, job.jobId).filter(
        (n) => signedAmounts.get(n.seq) === n.channelCumulative,
      );
      // Notes of equal amount are signed with one and the same voucher (same typed data, same
      // signature): it is listed once, under the first of them, as the submitter lists it.
      const vouchers: { cumulativeAmount: bigint; noteSeq: number }[] = [];
      for (const n of signed) {
        if (!vouchers.some((v) => v.cumulativeAmount === n.channelCumulative)) {
          vouchers.push({ cumulativeAmount: n.channelCumulative, noteSeq: n.seq });
        }
      }
      try {
        const invoice = buildInvoice({
          agreement,
          notes: signed.map(storedNotePayload),
          vouchers: vouchers.map((v) => ({
            cumulativeAmount: v.cumulativeAmount,
            noteSeq: v.noteSeq,
            redeemTx: redeemTxFor(store, job.channelId, v.cumulativeAmount),
          })),
        });
        return toJsonValue({
          ...invoice,
          run: {
            runtime: job.runtime,
            imageDigest: job.imageDigest,
            startedAt: job.startedAt,
            endedAt: job.endedAt,
            reasonCode: job.reasonCode,
          },
        });
      } catch (error) {
        if (!(error instanceof InvoiceError)) throw error;
        return reply.status(409).send({ error: "invoice", message: error.message });
      }
    },
  );
}
