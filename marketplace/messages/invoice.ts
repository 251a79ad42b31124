import { z } from "zod";
import { METERS } from "../rating/meters.ts";
import { address, bytes32, granularity, id, pricing, uint } from "./primitives.ts";

/** A signed integer in base units (the budget cap's line is negative), as a decimal string or a bigint. */
const signedAmount = z.union([
  z.bigint(),
  z
    .string()
    .regex(/^(0|-?[1-9][0-9]{0,77})$/, "expected an integer as a decimal string")
    .transform((s) => BigInt(s)),
]);

const seq = z.number().int().nonnegative();

/**
 * One invoice line: a flat meter, one band of a tiered meter, the minimum-charge top-up
 * (`meter: "minimum_charge"`, the difference between the minimum and the rated subtotal), or the
 * budget cap (`meter: "budget_cap"`, negative: what the last note asked for above the payer's
 * budget, which its voucher paid instead). The lines' amounts always sum to the invoice total.
 */
export const invoiceLine = z.object({
  meter: z.enum([...METERS, "minimum_charge", "budget_cap"]),
  /** The band (from 1) of a tiered rate; null for a flat rate, the minimum charge and the budget cap. */
  tier: z.number().int().positive().nullable(),
  /** The band's upper bound in the meter's unit; null for the top band, flat rates, the minimum and the cap. */
  upTo: uint.nullable(),
  /** Raw cumulative quantity on this line, in the meter's unit. */
  quantity: uint,
  /** Quantity after rounding up to the agreement's granularity (time meters only). */
  billedQuantity: uint,
  /** Base units per `per` units of the meter. */
  price: signedAmount,
  per: uint,
  amount: signedAmount,
  /** Volume tiers: the lower band whose top-of-band charge sets the amount ("never less for more"). */
  floorFromTier: z.number().int().positive().nullable(),
  /**
   * Spot only: the notes (first and last seq) of the price stretch this line bills; its quantities
   * are the usage billed in that stretch, not cumulative.
   */
  stretch: z.object({ fromSeq: seq, toSeq: seq }).optional(),
});

/** The audit trail from usage events to money: the notes that billed them and the vouchers that paid. */
export const invoiceTrace = z.object({
  /** Usage events billed over all notes. */
  eventCount: z.number().int().nonnegative(),
  firstEventId: z.string().nullable(),
  lastEventId: z.string().nullable(),
  /** The last note's events hash, which chains every note's events before it. */
  eventsHash: bytes32.nullable(),
  notes: z.array(z.object({ seq, jobAmount: uint, channelCumulative: uint, eventsHash: bytes32 })),
  vouchers: z.array(z.object({ cumulativeAmount: uint, noteSeq: seq, redeemTx: bytes32.nullable() })),
});

/** How the job ran, as its provider reported it: what ran, where, for how long, and why it ended. */
export const invoiceRun = z.object({
  /** `docker` or `process`. */
  runtime: z.string().nullable(),
  /** The image that ran (repo digest or image ID `sha256:…`); null for a plain command. */
  imageDigest: z.string().nullable(),
  /** The running time billed, epoch ms: the first process's start to the end. */
  startedAt: z.number().int().nullable(),
  endedAt: z.number().int().nullable(),
  /** Why it ended (`exit`, `timeout`, `oom`, `pids`, `disk-quota`, …). */
  reasonCode: z.string().nullable(),
});

/**
 * A job's invoice, built by `buildInvoice` from the signed notes, the vouchers and the rate card:
 * what `gridspot job invoice` prints and `GET /v1/jobs/:id/invoice` answers.
 */
export const invoice = z.object({
  jobId: id,
  provider: address,
  /** Null only for a job that was never billed (no note). */
  channelId: uint.nullable(),
  granularity,
  /** `spot`: one line per meter per price stretch. */
  pricing,
  lines: z.array(invoiceLine),
  /** Σ of the rated lines, before the minimum charge. */
  subtotal: uint,
  /** The agreement's minimum charge; null when it has none. */
  minimumCharge: uint.nullable(),
  minimumChargeApplied: z.boolean(),
  /**
   * The last note asked for more than the payer's budget and its voucher paid exactly the budget:
   * the `budget_cap` line takes the difference off, and `total` is what was paid.
   */
  budgetCapApplied: z.boolean(),
  /** What the job owes: the last note's job amount, or the budget its voucher paid when capped. */
  total: uint,
  /** Usage the provider measured on meters the rate card does not price (shown, never billed). */
  unrated: z.array(z.object({ meter: z.string(), quantity: uint })),
  trace: invoiceTrace,
  /** How the job ran; set by the side that knows it (the provider's API, the submitter's store). */
  run: invoiceRun.optional(),
});
