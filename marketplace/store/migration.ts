/** One schema step. `version` is the `PRAGMA user_version` the database has after `sql` ran. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}
