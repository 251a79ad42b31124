import { DatabaseSync } from "node:sqlite";
import { StoreError } from "./errors.ts";
import type { Migration } from "./migration.ts";
import { runMigrations } from "./runMigrations.ts";

/** An open store: one SQLite file per node or submitter (DESIGN.md §7). */
export interface Store {
  readonly db: DatabaseSync;
  readonly path: string;
  /** Schema version after migrations (`PRAGMA user_version`). */
  readonly schemaVersion: number;
  close(): void;
}

/** Options for {@link openStore}. */
export interface OpenStoreOptions {
  /** Schema history to apply (the provider's or the submitter's). */
  migrations: readonly Migration[];
  /** How long a writer waits for another connection's lock, ms. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed) and migrates the store at `path`.
 *
 * - `journal_mode=WAL`: readers never block the writer, and a crash leaves committed transactions
 *   intact in the log, replayed on the next open.
 * - `synchronous=FULL`: every COMMIT waits for the WAL to reach the disk. With NORMAL a committed
 *   transaction can vanish on power loss; the store holds money (usage, notes, vouchers) and DESIGN.md
 *   §7 says anything that moves money is durable before it is acted on. `synchronous` is a property
 *   of the connection, not of a table, so it covers the whole file; the cost is one fsync per
 *   transaction, which is why writers batch (e.g. one transaction per metering sample).
 * - `foreign_keys=ON`, enforced for every table later migrations add.
 * @throws StoreError when the file cannot be opened, WAL cannot be enabled, or migrations fail.
 */
export function openStore(path: string, options: OpenStoreOptions): Store {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path, {
      enableForeignKeyConstraints: true,
      timeout: options.busyTimeoutMs ?? 5_000,
    });
  } catch (error) {
    throw new StoreError(`cannot open store ${path}`, { path }, error);
  }
  try {
    const mode = db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode: string };
    if (mode.journal_mode !== "wal" && path !== ":memory:") {
      throw new StoreError(`store ${path}: journal_mode is ${mode.journal_mode}, WAL is required`, { path });
    }
    db.exec("PRAGMA synchronous = FULL");
    db.exec("PRAGMA foreign_keys = ON");
    const schemaVersion = runMigrations(db, options.migrations);
    return { db, path, schemaVersion, close: () => db.close() };
  } catch (error) {
    db.close();
    if (error instanceof StoreError) throw error;
    throw new StoreError(`cannot prepare store ${path}`, { path }, error);
  }
}
