import { StoreError } from "../../marketplace/store/errors.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { withTransaction } from "../../marketplace/store/withTransaction.ts";

/**
 * Records that debit note `noteSeq` covers the events `ids`, all in one transaction. Marking an
 * event again with the same note is a no-op, so a retried note write is safe.
 * @throws StoreError, writing nothing, when an id is unknown or already billed by another note.
 */
export function markBilled(store: Store, ids: readonly string[], noteSeq: number): void {
  withTransaction(store.db, () => markBilledInTransaction(store, ids, noteSeq));
}

/** {@link markBilled} inside a transaction the caller holds (insertNote writes the note in the same one). */
export function markBilledInTransaction(store: Store, ids: readonly string[], noteSeq: number): void {
  if (!Number.isSafeInteger(noteSeq) || noteSeq < 0) {
    throw new StoreError(`note sequence must be a non-negative integer, got ${String(noteSeq)}`, { noteSeq });
  }
  const select = store.db.prepare("SELECT note_seq FROM usage_events WHERE id = ?");
  const update = store.db.prepare("UPDATE usage_events SET note_seq = ? WHERE id = ? AND note_seq IS NULL");
  for (const id of ids) {
    const row = select.get(id) as { note_seq: number | null } | undefined;
    if (row === undefined) throw new StoreError(`cannot bill unknown usage event ${id}`, { id, noteSeq });
    if (row.note_seq !== null && row.note_seq !== noteSeq) {
      throw new StoreError(`usage event ${id} is already billed by note ${row.note_seq}`, {
        id,
        noteSeq,
        billedBy: row.note_seq,
      });
    }
    update.run(noteSeq, id);
  }
}
