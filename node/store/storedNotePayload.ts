import { type DebitNote, debitNote } from "../../marketplace/messages/receipt.ts";
import { StoreError } from "../../marketplace/store/errors.ts";
import type { StoredNote } from "./receiptRecords.ts";

/**
 * The debit note a stored note carries: its signed envelope's payload (the exact JSON string that
 * was signed), parsed with the note schema, so it is the note the submitter received.
 * @throws StoreError when the stored envelope does not hold a valid note.
 */
export function storedNotePayload(note: Pick<StoredNote, "jobId" | "seq" | "envelope">): DebitNote {
  try {
    const envelope = JSON.parse(note.envelope) as { payload?: unknown };
    if (typeof envelope.payload !== "string") throw new Error("the envelope has no payload");
    return debitNote.parse(JSON.parse(envelope.payload));
  } catch (error) {
    throw new StoreError(
      `stored note ${note.seq} of job ${note.jobId} is not a valid debit note`,
      { jobId: note.jobId, seq: note.seq },
      error,
    );
  }
}
