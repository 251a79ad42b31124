import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../marketplace/store/openStore.ts";
import type { UsageEvent } from "../../../node/meter/types.ts";
import { insertUsageEvents } from "../../../node/store/insertUsageEvents.ts";
import { jobAgreement } from "../../../node/store/jobAgreement.ts";
import { getJob, insertJob } from "../../../node/store/jobRecords.ts";
import { listNoteVouchers } from "../../../node/store/noteVouchers.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { insertVoucher, jobVouchers, latestVoucher } from "../../../node/store/receiptRecords.ts";
import { usageTotals } from "../../../node/store/usageTotals.ts";
import { agreement, SUBMITTER } from "../../marketplace/messages/fixtures.ts";
import { signedAgreement } from "./signedAgreement.ts";
import { usageEvent } from "./usageEvent.ts";

let dir: string;
let path: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-ledger-"));
  path = join(dir, "provider.db");
  store = openProviderStore(path);
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const jobEvent = (id: string, quantity: bigint): UsageEvent => ({
  id: `job1:job:${id}`,
  jobId: "job1",
  source: "job",
  meter: "tokens",
  quantity,
  time: 1,
});

describe("the usage ledger", () => {
  it("keeps seen ids for good: an id is a duplicate after the store is closed and reopened", () => {
    const e = usageEvent("job1", "gpu_util_ms", 0, 500n);
    expect(insertUsageEvents(store, [e]).inserted).toEqual([e.id]);
    store.close();
    store = openProviderStore(path);
    expect(insertUsageEvents(store, [e, usageEvent("job1", "gpu_mem_mib_ms", 0, 7n)])).toEqual({
      inserted: ["job1:gpu_mem_mib_ms:0"],
      duplicates: [e.id],
    });
    expect(usageTotals(store, "job1")).toEqual({ gpu_mem_mib_ms: 7n, gpu_util_ms: 500n });
  });

  it("takes a job's own events under jobId:job:<id>, only from source job", () => {
    expect(insertUsageEvents(store, [jobEvent("a", 3n)]).inserted).toEqual(["job1:job:a"]);
    expect(() => insertUsageEvents(store, [{ ...jobEvent("b", 1n), source: "node" }])).toThrow(
      /id must be "job1:tokens:<seq>"$/,
    );
    expect(() => insertUsageEvents(store, [{ ...jobEvent("b", 1n), id: "job1:job:" }])).toThrow(
      /id must be "job1:tokens:<seq>" or "job1:job:<id>"/,
    );
    expect(() =>
      insertUsageEvents(store, [{ ...jobEvent("b", 1n), id: `job1:job:${"x".repeat(250)}` }]),
    ).toThrow(/id longer than 256 characters/);
    expect(usageTotals(store, "job1")).toEqual({ tokens: 3n });
  });

  it("stores nothing for an empty batch", () => {
    expect(insertUsageEvents(store, [])).toEqual({ inserted: [], duplicates: [] });
  });

  it("keeps the first agreement stored for a job, in its jobs row", async () => {
    const job = (jobId: string, channelId: bigint, stored: string) =>
      insertJob(store, {
        jobId,
        orderId: agreement.orderId,
        submitter: SUBMITTER,
        channelId,
        channelBase: 0n,
        agreement: stored,
        startedAt: 1,
      });
    const stored = (jobId: string) => {
      const row = getJob(store, jobId);
      return row === undefined ? undefined : jobAgreement(row);
    };
    // A row whose agreement is not a signed pair has no agreement to rate with.
    job("job-unread-0001", 6n, "{}");
    expect(stored("job-unread-0001")).toBeUndefined();
    expect(job(agreement.jobId, 7n, await signedAgreement(agreement))).toEqual({ ok: true });
    // One row per job: a second agreement for it is refused, the first stays.
    const other = await signedAgreement({ ...agreement, granularity: "min" });
    expect(() => job(agreement.jobId, 8n, other)).toThrow(/UNIQUE|PRIMARY KEY/);
    expect(stored(agreement.jobId)).toEqual(agreement);
  });

  it("records every note the payer signed, two notes of equal amount included", () => {
    insertJob(store, {
      jobId: "job-v-0001",
      orderId: "order-v",
      submitter: SUBMITTER,
      channelId: 9n,
      channelBase: 0n,
      agreement: "{}",
      startedAt: 1,
    });
    const voucher = (noteSeq: number, cumulativeAmount: bigint) => {
      insertVoucher(store, {
        channelId: 9n,
        cumulativeAmount,
        signature: `0x0${noteSeq}`,
        jobId: "job-v-0001",
        noteSeq,
        receivedAt: noteSeq,
      });
    };
    voucher(0, 100n);
    voucher(1, 100n); // a minimum charge: the amount did not move, the voucher is the same
    voucher(2, 250n);
    voucher(2, 250n); // the same voucher delivered twice
    expect(listNoteVouchers(store, "job-v-0001").map((v) => [v.noteSeq, v.cumulativeAmount])).toEqual([
      [0, 100n],
      [1, 100n],
      [2, 250n],
    ]);
    // The vouchers themselves: one per amount, as before.
    expect(jobVouchers(store, "job-v-0001").map((v) => [v.noteSeq, v.cumulativeAmount])).toEqual([
      [0, 100n],
      [2, 250n],
    ]);
    expect(latestVoucher(store, 9n)?.cumulativeAmount).toBe(250n);
  });
});
