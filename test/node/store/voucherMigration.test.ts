import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openStore } from "../../../marketplace/store/openStore.ts";
import { MIGRATIONS } from "../../../node/store/migrations.ts";
import { listNoteVouchers } from "../../../node/store/noteVouchers.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { jobVouchers, latestVoucher } from "../../../node/store/receiptRecords.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-migrate-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const key = (n: bigint) => n.toString().padStart(78, "0");

describe("migration 7: one voucher row per signed note", () => {
  it("keeps every signed note of a ledger written before it, each with its signature", () => {
    const path = join(dir, "provider.db");
    // A ledger as a node before migration 7 wrote it: vouchers per amount, note_vouchers per note.
    const old = openStore(path, { migrations: MIGRATIONS.filter((m) => m.version < 7) });
    old.db.exec(`
      INSERT INTO jobs (job_id, order_id, submitter, channel_id, channel_base, agreement, status, reason, started_at, job_amount)
        VALUES ('job-m-0001', 'o', '0x0', '5', '0', '{}', 'completed', '', 1, '250');
      INSERT INTO vouchers VALUES ('5', '100', '${key(100n)}', '0xaa', 'job-m-0001', 0, 10);
      INSERT INTO vouchers VALUES ('5', '250', '${key(250n)}', '0xbb', 'job-m-0001', 2, 30);
      INSERT INTO note_vouchers VALUES ('job-m-0001', 0, '100', 10);
      INSERT INTO note_vouchers VALUES ('job-m-0001', 1, '100', 20);
      INSERT INTO note_vouchers VALUES ('job-m-0001', 2, '250', 30);
    `);
    old.close();
    const store = openProviderStore(path);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    expect(listNoteVouchers(store, "job-m-0001").map((v) => [v.noteSeq, v.cumulativeAmount])).toEqual([
      [0, 100n],
      [1, 100n],
      [2, 250n],
    ]);
    const rows = store.db.prepare("SELECT note_seq, signature FROM vouchers ORDER BY note_seq").all();
    expect(rows).toEqual([
      { note_seq: 0, signature: "0xaa" },
      { note_seq: 1, signature: "0xaa" },
      { note_seq: 2, signature: "0xbb" },
    ]);
    expect(jobVouchers(store, "job-m-0001").map((v) => [v.noteSeq, v.cumulativeAmount])).toEqual([
      [0, 100n],
      [2, 250n],
    ]);
    expect(latestVoucher(store, 5n)?.signature).toBe("0xbb");
    expect(
      store.db.prepare("SELECT name FROM sqlite_master WHERE name = 'note_vouchers'").get(),
    ).toBeUndefined();
    store.close();
  });
});
