import type { Agreement } from "../messages/agreement.ts";
import type { DebitNote } from "../messages/receipt.ts";
import { rateCardKey } from "../rating/rateCardKey.ts";
import { noteTotals } from "./noteTotals.ts";
import { type PricedNoteState, type PriceNoteReturnType, priceNote } from "./priceNote.ts";
import { spotRatesProblem } from "./spotRatesProblem.ts";

export type PriceNotesParameters = {
  /** The rate card; `maxRates` bounds a spot note's rates (unchecked when absent). */
  agreement: Pick<Agreement, "pricing" | "rates" | "granularity" | "minimumCharge"> &
    Partial<Pick<Agreement, "maxRates">>;
  channelBase: bigint;
  /** A job's notes, in seq order, each the one after the previous (a spot note builds on it). */
  notes: readonly DebitNote[];
};

export type PricedNote = { note: DebitNote; price: PriceNoteReturnType; problem: string | undefined };

export type PriceNotesReturnType = {
  notes: PricedNote[];
  /** Every note's problem, in words: a note whose figures are not what `priceNote` makes of it. */
  problems: string[];
  /** What the last note leaves for the next (undefined without notes). */
  state: PricedNoteState | undefined;
};

/**
 * Prices a job's chain of notes with `priceNote`, each on the one before, and says which notes state
 * figures other than its own (rates, subtotal, job amount, channel cumulative). The price chain
 * follows the recomputed figures, never the notes' own, so one wrong note cannot move the next.
 */
export function priceNotes(p: PriceNotesParameters): PriceNotesReturnType {
  const { agreement } = p;
  const card = rateCardKey(agreement.rates);
  const out: PricedNote[] = [];
  const problems: string[] = [];
  let state: PricedNoteState | undefined;
  for (const note of p.notes) {
    const price = priceNote({
      agreement,
      channelBase: p.channelBase,
      rates: note.rates,
      previous: state,
      totals: noteTotals(note),
    });
    let problem: string | undefined;
    if (agreement.pricing === "fixed" && rateCardKey(note.rates) !== card) {
      problem = "rates differ from the agreement";
    } else if (agreement.pricing === "spot" && agreement.maxRates !== undefined) {
      problem = spotRatesProblem(note.rates, agreement.rates, agreement.maxRates);
    }
    if (problem === undefined && note.subtotal !== undefined && note.subtotal !== price.subtotal)
      problem = `subtotal ${note.subtotal} should be ${price.subtotal}`;
    if (problem === undefined && note.jobAmount !== price.jobAmount)
      problem = `bills ${note.jobAmount}, its usage rates to ${price.jobAmount}`;
    if (problem === undefined && note.channelCumulative !== price.channelCumulative)
      problem = `channel cumulative ${note.channelCumulative} is not ${p.channelBase} + ${price.jobAmount}`;
    if (problem !== undefined) problems.push(`note ${note.seq}: ${problem}`);
    out.push({ note, price, problem });
    state = price.state;
  }
  return { notes: out, problems, state };
}
