import type { DebitNote } from "../messages/receipt.ts";
import type { UsageTotals } from "../rating/types.ts";

/** A note's cumulative usage as totals per meter. */
export function noteTotals(note: Pick<DebitNote, "usage">): UsageTotals {
  const totals: Record<string, bigint> = {};
  for (const u of note.usage) totals[u.meter] = u.quantity;
  return totals;
}
