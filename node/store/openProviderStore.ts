import { openStore, type Store } from "../../marketplace/store/openStore.ts";
import { MIGRATIONS } from "./migrations.ts";

/**
 * Page cache of the node's connection, KiB (SQLite's `cache_size` takes negative KiB). The ledger's
 * id index takes inserts all over its key range when many jobs run; with the default 2 MiB its
 * pages keep leaving the cache between batches.
 */
export const LEDGER_CACHE_KIB = 64 * 1024;

/**
 * WAL pages before an automatic checkpoint (default 1000, 4 MiB). A checkpoint copies each page
 * once however often the WAL rewrote it, so checkpointing less often writes less under a steady
 * stream of small transactions. Durability is the same: every COMMIT still waits for the WAL fsync.
 */
export const LEDGER_WAL_AUTOCHECKPOINT_PAGES = 10_000;

/** The provider node's ledger: usage events, jobs, debit notes, vouchers, redemptions. */
export function openProviderStore(path: string): Store {
  const store = openStore(path, { migrations: MIGRATIONS });
  store.db.exec(`PRAGMA cache_size = -${LEDGER_CACHE_KIB}`);
  store.db.exec(`PRAGMA wal_autocheckpoint = ${LEDGER_WAL_AUTOCHECKPOINT_PAGES}`);
  return store;
}
