import { openStore, type Store } from "../../marketplace/store/openStore.ts";
import { MIGRATIONS } from "./migrations.ts";

/** The provider node's ledger: usage events, jobs, debit notes, vouchers, redemptions. */
export function openProviderStore(path: string): Store {
  return openStore(path, { migrations: MIGRATIONS });
}
