import type { Hex } from "viem";
import { recoverVoucherSigner } from "../../marketplace/chain/voucher.ts";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { insertVoucher } from "../store/receiptRecords.ts";

export type TakeVoucherParameters = {
  chainId: number;
  agreement: Agreement;
  channelId: bigint;
  noteSeq: number;
  voucher: { channelId: bigint; cumulativeAmount: bigint; signature: Hex };
  /** The channel cumulative of note `noteSeq` as it was sent; undefined for a note never sent. */
  noteCumulative: bigint | undefined;
  /** The highest amount already paid on this job's notes (the channel base before any). */
  paidSoFar: bigint;
};

/**
 * `paid`: the voucher pays its note in full; `partial`: it pays less than its note but more than
 * before (the payer's budget, reached in that note: the payer stops the job next); `refused`: wrong
 * channel or amount, or not signed by the agreement's payer.
 */
export type TakeVoucherReturnType = { kind: "paid" } | { kind: "partial" } | { kind: "refused"; why: string };

/**
 * Checks a voucher against the note it answers and the payer's signature, and stores it durably
 * before anything acts on it (a crash right after still redeems it on restart).
 */
export async function takeVoucher(store: Store, p: TakeVoucherParameters): Promise<TakeVoucherReturnType> {
  const { voucher, noteCumulative } = p;
  if (voucher.channelId !== p.channelId || noteCumulative === undefined) {
    return { kind: "refused", why: "voucher for another channel or an unknown note" };
  }
  const full = voucher.cumulativeAmount === noteCumulative;
  const partial = voucher.cumulativeAmount < noteCumulative && voucher.cumulativeAmount > p.paidSoFar;
  if (!full && !partial) return { kind: "refused", why: "voucher amount does not match its note" };
  let signer: string;
  try {
    signer = await recoverVoucherSigner({
      chainId: p.chainId,
      escrow: p.agreement.escrow,
      voucher,
      signature: voucher.signature,
    });
  } catch (error) {
    return { kind: "refused", why: `voucher signature invalid: ${(error as Error).message}` };
  }
  if (signer !== p.agreement.submitter)
    return { kind: "refused", why: `voucher signed by ${signer}, not the payer` };
  insertVoucher(store, { ...voucher, jobId: p.agreement.jobId, noteSeq: p.noteSeq, receivedAt: Date.now() });
  return full ? { kind: "paid" } : { kind: "partial" };
}
