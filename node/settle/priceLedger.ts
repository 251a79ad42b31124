import type { Agreement } from "../../marketplace/messages/agreement.ts";
import type { DebitNote } from "../../marketplace/messages/receipt.ts";
import type { UsageTotals } from "../../marketplace/rating/types.ts";
import { priceNote } from "../../marketplace/receipt/priceNote.ts";
import { priceNotes } from "../../marketplace/receipt/priceNotes.ts";

export type PriceLedgerParameters = {
  card: Pick<Agreement, "pricing" | "rates" | "granularity" | "minimumCharge">;
  /** The job's notes in seq order (only read for a spot card). */
  notes: readonly DebitNote[];
  /** The ledger's cumulative usage. */
  totals: UsageTotals;
};

/**
 * What a job's ledger owes, by `priceNote`: the ledger's totals priced as the note after the last
 * one. Fixed: the card on the cumulative totals. Spot: on the chain of notes re-priced from the first,
 * the usage since the last note at its rates. So an ended job whose notes billed all its usage prices
 * to exactly its last note's job amount, whatever its price did; more usage prices above it.
 */
export function priceLedger(p: PriceLedgerParameters): bigint {
  const notes = p.card.pricing === "spot" ? p.notes : [];
  const chain = priceNotes({ agreement: p.card, channelBase: 0n, notes });
  return priceNote({
    agreement: p.card,
    channelBase: 0n,
    rates: notes.at(-1)?.rates ?? p.card.rates,
    previous: chain.state,
    totals: p.totals,
  }).jobAmount;
}
