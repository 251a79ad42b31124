import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { toJson } from "../../../marketplace/messages/json.ts";
import { openStore } from "../../../marketplace/store/openStore.ts";
import { jobAgreement } from "../../../node/store/jobAgreement.ts";
import { getJob } from "../../../node/store/jobRecords.ts";
import { MIGRATIONS } from "../../../node/store/migrations.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { agreement } from "../../marketplace/messages/fixtures.ts";
import { signedAgreement } from "./signedAgreement.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-migrate-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("migration 8: one place for a job's agreement", () => {
  it("drops job_terms, and every job's agreement reads from its jobs row", async () => {
    const path = join(dir, "provider.db");
    // A store as a node before migration 8 wrote it: the signed pair in jobs, the agreement again in
    // job_terms for a job that ran since migration 3, none for one that ran before it.
    const old = openStore(path, { migrations: MIGRATIONS.filter((m) => m.version < 8) });
    const insert = old.db.prepare(
      `INSERT INTO jobs (job_id, order_id, submitter, channel_id, channel_base, agreement, status, reason, started_at, job_amount)
       VALUES (?, ?, ?, ?, '0', ?, 'completed', '', 1, '0')`,
    );
    const recent = { ...agreement, jobId: "job-recent-0001" };
    const early = { ...agreement, jobId: "job-early-0001", granularity: "s" as const };
    insert.run(recent.jobId, recent.orderId, recent.submitter, "5", await signedAgreement(recent));
    insert.run(early.jobId, early.orderId, early.submitter, "6", await signedAgreement(early));
    old.db
      .prepare("INSERT INTO job_terms (job_id, agreement) VALUES (?, ?)")
      .run(recent.jobId, toJson(recent));
    old.close();

    const store = openProviderStore(path);
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    expect(store.db.prepare("SELECT name FROM sqlite_master WHERE name = 'job_terms'").get()).toBeUndefined();
    const stored = (jobId: string) => {
      const row = getJob(store, jobId);
      return row === undefined ? undefined : jobAgreement(row);
    };
    expect(stored(recent.jobId)).toEqual(recent);
    expect(stored(early.jobId)).toEqual(early);
    store.close();
  });
});
