import { type DebitNote, debitNote } from "../messages/receipt.ts";
import type { Store } from "../store/openStore.ts";
import { listJobVouchers, listNoteRecords } from "./submitterStore.ts";

/** The note a stored envelope carries: its signed payload, parsed with the note schema. */
function noteOf(envelope: string): DebitNote {
  return debitNote.parse(JSON.parse((JSON.parse(envelope) as { payload: string }).payload));
}

/** A job's accepted notes (those a voucher was signed for), in seq order. */
export function acceptedNotes(store: Store, jobId: string): DebitNote[] {
  return listNoteRecords(store, jobId)
    .filter((n) => n.verdict === "accepted")
    .map((n) => noteOf(n.envelope));
}

/**
 * The notes a job's invoice bills, in seq order: those accepted, and the one paid exactly the budget
 * (refused as over the budget, but a voucher for the budget names it). `buildInvoice` bills that
 * note's usage and takes what it asked above the budget off as its `budget_cap` line, as the
 * provider's invoice does.
 */
export function invoiceNotes(store: Store, jobId: string): DebitNote[] {
  const vouchered = new Set(listJobVouchers(store, jobId).map((v) => v.noteSeq));
  return listNoteRecords(store, jobId)
    .filter((n) => n.verdict === "accepted" || vouchered.has(n.seq))
    .map((n) => noteOf(n.envelope));
}
