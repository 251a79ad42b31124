import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StoreError } from "../../../marketplace/store/errors.ts";
import { openStore } from "../../../marketplace/store/openStore.ts";
import { MIGRATIONS } from "../../../node/store/migrations.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-store-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("openStore", () => {
  it("opens in WAL mode with synchronous=FULL and foreign keys, at the latest schema", () => {
    const path = join(dir, "node.sqlite");
    const store = openProviderStore(path);
    const pragma = (name: string) => Object.values(store.db.prepare(`PRAGMA ${name}`).get() ?? {})[0];
    expect(pragma("journal_mode")).toBe("wal");
    expect(pragma("synchronous")).toBe(2); // FULL
    expect(pragma("foreign_keys")).toBe(1);
    expect(pragma("user_version")).toBe(MIGRATIONS.length);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    store.db.exec("INSERT INTO usage_events VALUES ('j:gpu_ms:0','j','node','gpu_ms',1,1,NULL,NULL)");
    expect(existsSync(`${path}-wal`)).toBe(true);
    store.close();
  });

  it("runs each migration once across reopens", () => {
    const path = join(dir, "node.sqlite");
    openProviderStore(path).close();
    const again = openProviderStore(path);
    expect(again.schemaVersion).toBe(MIGRATIONS.length);
    again.close();
  });

  it("applies later migrations on reopen and refuses a database from a newer version", () => {
    const path = join(dir, "node.sqlite");
    openProviderStore(path).close();
    const next = [
      ...MIGRATIONS,
      { version: MIGRATIONS.length + 1, name: "extra", sql: "CREATE TABLE extra (x INTEGER)" },
    ];
    const upgraded = openStore(path, { migrations: next });
    expect(upgraded.schemaVersion).toBe(MIGRATIONS.length + 1);
    upgraded.close();
    expect(() => openProviderStore(path)).toThrow(/newer than this gridspot/);
  });

  it("leaves the schema at a whole version when a migration fails", () => {
    const path = join(dir, "node.sqlite");
    const broken = [
      ...MIGRATIONS,
      { version: MIGRATIONS.length + 1, name: "bad", sql: "CREATE TABLE ok (x); SYNTAX ERROR" },
    ];
    expect(() => openStore(path, { migrations: broken })).toThrow(StoreError);
    const db = new DatabaseSync(path);
    expect(db.prepare("PRAGMA user_version").get()).toEqual({ user_version: MIGRATIONS.length });
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'ok'").get()).toBeUndefined();
    db.close();
  });

  it("rejects migrations out of order", () => {
    expect(() =>
      openStore(join(dir, "x.sqlite"), { migrations: [{ version: 2, name: "two", sql: "" }] }),
    ).toThrow(/expected 1/);
  });

  it("names the path when the file cannot be opened", () => {
    expect(() => openProviderStore(join(dir, "missing-dir", "node.sqlite"))).toThrow(
      /cannot open store .*missing-dir/,
    );
  });
});
