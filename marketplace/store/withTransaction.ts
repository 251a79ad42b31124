import type { DatabaseSync } from "node:sqlite";

/**
 * Runs `work` inside `BEGIN IMMEDIATE … COMMIT` (taking the write lock up front, so a concurrent
 * writer waits on busy_timeout instead of failing mid-transaction) and rolls back if it throws.
 */
export function withTransaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = work();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}
