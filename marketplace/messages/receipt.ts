import { z } from "zod";
import { bytes32, hex, id, meter, rate, uint } from "./primitives.ts";

/**
 * What the provider bills at each receipt interval, signed by it. All figures are cumulative for
 * the job, so a lost note is made good by the next one and nothing is ever counted twice.
 * `channelCumulative` = `channelBase` (what the payer had signed on the channel before this job) +
 * `jobAmount`: the amount of the voucher the provider asks for.
 */
export const debitNote = z.object({
  jobId: id,
  channelId: uint,
  seq: z.number().int().nonnegative(),
  /** Wall milliseconds the job has run, as the provider measured them. */
  elapsedMs: z.number().int().nonnegative(),
  usage: z.array(z.object({ meter, quantity: uint })).max(16),
  rates: z.array(rate).min(1).max(16),
  /**
   * What the usage costs before the agreement's minimum charge (`jobAmount = max(subtotal, minimum)`).
   * Carried because a spot note's subtotal builds on the previous one (see receipt/priceNote.ts).
   */
  subtotal: uint.optional(),
  jobAmount: uint,
  channelCumulative: uint,
  /** keccak256(previous note's eventsHash ‖ digest of the usage events billed since). */
  eventsHash: bytes32,
  eventCount: z.number().int().nonnegative(),
  /** The first and last usage event this note bills (ledger order), for the invoice's audit trail. */
  firstEventId: z.string().max(256).nullable(),
  lastEventId: z.string().max(256).nullable(),
  final: z.boolean(),
});
export type DebitNote = z.infer<typeof debitNote>;

/** The payer's EIP-712 voucher (domain `gridspot`): the escrow verifies the signature itself. */
export const signedVoucher = z.object({
  channelId: uint,
  cumulativeAmount: uint,
  signature: hex,
});
export type SignedVoucher = z.infer<typeof signedVoucher>;
