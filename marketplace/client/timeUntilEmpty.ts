import { BURN_RATE_WINDOW_NOTES } from "./constants.ts";

export type TimeUntilEmptyParameters = {
  /** The job's accepted notes in seq order: cumulative amount and the provider's elapsed ms. */
  notes: readonly { jobAmount: bigint; elapsedMs: number }[];
  budget: bigint;
  /** How many of the latest notes the burn rate is measured over. */
  window?: number;
};

/**
 * Seconds until the job's budget runs out at its recent burn rate: `(budget − amount) ÷ rate`, the
 * rate measured between the first and the last of the latest `window` notes (by the provider's
 * elapsed time). Null when it cannot be told: fewer than two notes, no time between them, or nothing
 * spent in that time (a job that stopped burning never empties). 0 once the budget is used up.
 */
export function timeUntilEmpty(p: TimeUntilEmptyParameters): number | null {
  const recent = p.notes.slice(-Math.max(2, p.window ?? BURN_RATE_WINDOW_NOTES));
  const first = recent[0];
  const last = recent.at(-1);
  if (first === undefined || last === undefined || recent.length < 2) return null;
  const spent = last.jobAmount - first.jobAmount;
  const ms = BigInt(last.elapsedMs - first.elapsedMs);
  if (spent <= 0n || ms <= 0n) return null;
  const remaining = p.budget - last.jobAmount;
  if (remaining <= 0n) return 0;
  // remaining ÷ (spent / ms) in ms, then seconds, exactly in bigint and rounded down.
  return Number((remaining * ms) / (spent * 1000n));
}
