import type { Address, Hex } from "viem";
import type { Meter } from "../rating/meters.ts";
import type { Granularity } from "../rating/types.ts";

/**
 * One invoice line: a flat meter, one band of a tiered meter, the minimum-charge top-up
 * (`meter: "minimum_charge"`, the difference between the minimum and the rated subtotal), or the
 * budget cap (`meter: "budget_cap"`, negative: what the last note asked for above the payer's
 * budget, which its voucher paid instead). The lines' amounts always sum to the invoice total.
 */
export type InvoiceLine = {
  meter: Meter | "minimum_charge" | "budget_cap";
  /** The band (from 1) of a tiered rate; null for a flat rate, the minimum charge and the budget cap. */
  tier: number | null;
  /** The band's upper bound in the meter's unit; null for the top band, flat rates, the minimum and the cap. */
  upTo: bigint | null;
  /** Raw cumulative quantity on this line, in the meter's unit. */
  quantity: bigint;
  /** Quantity after rounding up to the agreement's granularity (time meters only). */
  billedQuantity: bigint;
  /** Base units per `per` units of the meter. */
  price: bigint;
  per: bigint;
  amount: bigint;
  /** Volume tiers: the lower band whose top-of-band charge sets the amount ("never less for more"). */
  floorFromTier: number | null;
  /**
   * Spot only: the notes (first and last seq) of the price stretch this line bills; its quantities
   * are the usage billed in that stretch, not cumulative.
   */
  stretch?: { fromSeq: number; toSeq: number };
};

/** The audit trail from usage events to money: the notes that billed them and the vouchers that paid. */
export type InvoiceTrace = {
  /** Usage events billed over all notes. */
  eventCount: number;
  firstEventId: string | null;
  lastEventId: string | null;
  /** The last note's events hash, which chains every note's events before it. */
  eventsHash: Hex | null;
  notes: { seq: number; jobAmount: bigint; channelCumulative: bigint; eventsHash: Hex }[];
  vouchers: { cumulativeAmount: bigint; noteSeq: number; redeemTx: Hex | null }[];
};

/** How the job ran, as its provider reported it: what ran, where, for how long, and why it ended. */
export type InvoiceRun = {
  /** `docker` or `process`. */
  runtime: string | null;
  /** The image that ran (repo digest or image ID `sha256:…`); null for a plain command. */
  imageDigest: string | null;
  /** The running time billed, epoch ms: the first process's start to the end. */
  startedAt: number | null;
  endedAt: number | null;
  /** Why it ended (`exit`, `timeout`, `oom`, `pids`, `disk-quota`, …). */
  reasonCode: string | null;
};

/** A job's invoice, built by `buildInvoice` from the signed notes, the vouchers and the rate card. */
export type Invoice = {
  jobId: string;
  provider: Address;
  /** Null only for a job that was never billed (no note). */
  channelId: bigint | null;
  granularity: Granularity;
  /** `spot`: one line per meter per price stretch. */
  pricing: "fixed" | "spot";
  lines: InvoiceLine[];
  /** Σ of the rated lines, before the minimum charge. */
  subtotal: bigint;
  /** The agreement's minimum charge; null when it has none. */
  minimumCharge: bigint | null;
  minimumChargeApplied: boolean;
  /**
   * The last note asked for more than the payer's budget and its voucher paid exactly the budget:
   * the `budget_cap` line takes the difference off, and `total` is what was paid.
   */
  budgetCapApplied: boolean;
  /** What the job owes: the last note's job amount, or the budget its voucher paid when capped. */
  total: bigint;
  /** Usage the provider measured on meters the rate card does not price (shown, never billed). */
  unrated: { meter: string; quantity: bigint }[];
  trace: InvoiceTrace;
  /** How the job ran; set by the side that knows it (the provider's API, the submitter's store). */
  run?: InvoiceRun;
};
