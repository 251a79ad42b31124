import { z } from "zod";
import { invoice, invoiceRun } from "./invoice.ts";
import { address, bytes32, hex, rate, uint } from "./primitives.ts";

/**
 * The answers of the provider's operator API (node/api), which `gridspot provider …` reads with the
 * same schemas. Bigints travel as decimal strings. Answers are not strict: the node drops a field
 * its schema does not name, and an older CLI ignores a field a newer node adds.
 */

/** Every answer that is not a success: a stable word and a sentence. */
export const apiError = z.object({
  error: z.string(),
  message: z.string(),
  /** `POST /v1/usage`: the first event refused (null: the body itself). */
  index: z.number().int().nonnegative().nullable().optional(),
});
export type ApiError = z.output<typeof apiError>;

/** The redemption queue's state, from the ledger. */
export const settlementStats = z.object({
  /** Channels whose newest voucher is not yet redeemed with the confirmations required. */
  vouchersPending: z.number().int().nonnegative(),
  /** What they would still pay: Σ newest voucher − highest confirmed redemption, base units. */
  pendingValue: uint,
  /** Redemptions sent and waiting for their confirmations. */
  redemptionsUnconfirmed: z.number().int().nonnegative(),
  /** The nearest redeem deadline of a pending channel (unix s), as last read on-chain; null if none. */
  nearestDeadline: z.number().int().nullable(),
});
export type SettlementStats = z.output<typeof settlementStats>;

/**
 * What the running node says of itself in `GET /v1/status`. Each part is optional and the document
 * is open (`runtime` and `pricing` are their components' own reports), so a node that knows less
 * still answers; what is there has its type.
 */
export const nodeStatus = z
  .object({
    provider: address,
    peerId: z.string(),
    chainId: z.number().int().positive(),
    addrs: z.array(z.string()),
    /** What the node offers in all. */
    resources: z.object({
      gpus: z.array(
        z.object({ index: z.number().int().nonnegative(), class: z.string(), vramMiB: z.number() }),
      ),
      cpuCores: z.number(),
      memMiB: z.number(),
      maxDurationS: z.number(),
    }),
    /** The GPU preflight, and whether a runtime can give the GPUs to jobs. */
    gpu: z.object({ offered: z.boolean(), reason: z.string().optional() }).passthrough(),
    runtime: z.unknown(),
    runningJobs: z.array(z.string()),
    /** Jobs in the ledger (at most 1,000 counted). */
    jobs: z.number().int().nonnegative(),
    rates: z.array(rate),
    pricing: z.unknown(),
  })
  .partial()
  .passthrough();

/** `GET /v1/status`: the node's status and its settlement, from the ledger. */
export const providerStatus = nodeStatus.extend({ settlement: settlementStats });
export type ProviderStatus = z.output<typeof providerStatus>;

/** A voucher as the node holds it: the payer's signed voucher and the note it pays. */
export const storedVoucher = z.object({
  channelId: uint,
  cumulativeAmount: uint,
  signature: hex,
  jobId: z.string(),
  noteSeq: z.number().int().nonnegative(),
});

/** One redemption the node sent: the transaction and the vouchers in it. */
export const redemption = z.object({ txHash: bytes32, vouchers: z.array(storedVoucher) });

/** `POST /v1/redeem`: the redemption it sent, or null when nothing was due. */
export const redeemAnswer = z.object({ result: redemption.nullable() });
export type RedeemAnswer = z.output<typeof redeemAnswer>;

/** `GET /v1/jobs/:id/invoice`: the job's invoice, with how the job ran. */
export const invoiceAnswer = invoice.extend({ run: invoiceRun });
