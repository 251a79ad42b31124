import type { DatabaseSync } from "node:sqlite";
import { StoreError } from "./errors.ts";
import type { Migration } from "./migration.ts";
import { withTransaction } from "./withTransaction.ts";

/**
 * Brings the database to the newest migration. Each step runs in its own transaction together with
 * the `PRAGMA user_version` bump, so a crash leaves the schema at a whole version.
 * @returns the schema version after migrating.
 * @throws StoreError when the database is newer than this code or the list is out of order.
 */
export function runMigrations(db: DatabaseSync, migrations: readonly Migration[]): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new StoreError(`migration "${m.name}" has version ${m.version}, expected ${i + 1}`);
    }
  });
  const latest = migrations.length;
  let current = userVersion(db);
  if (current > latest) {
    throw new StoreError(
      `store schema version ${current} is newer than this gridspot (knows up to ${latest}); upgrade gridspot`,
      { current, latest },
    );
  }
  for (const migration of migrations.slice(current)) {
    withTransaction(db, () => {
      db.exec(migration.sql);
      db.exec(`PRAGMA user_version = ${migration.version}`);
    });
    current = migration.version;
  }
  return current;
}

function userVersion(db: DatabaseSync): number {
  const row = db.prepare("PRAGMA user_version").get() as { user_version: number | bigint } | undefined;
  return Number(row?.user_version ?? 0);
}
