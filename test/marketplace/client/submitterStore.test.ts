import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  claimChannel,
  getChannel,
  insertSubmitterJob,
  listJobVouchers,
  openSubmitterStore,
  recordSignedVoucher,
  upsertChannel,
} from "../../../marketplace/client/submitterStore.ts";
import type { Store } from "../../../marketplace/store/openStore.ts";
import { ESCROW, PROVIDER } from "../messages/fixtures.ts";

const SIG = `0x${"11".repeat(65)}`;

let dir: string;
let path: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-submitter-"));
  path = join(dir, "submitter.db");
  store = openSubmitterStore(path);
  upsertChannel(store, {
    channelId: 7n,
    escrow: ESCROW,
    provider: PROVIDER,
    amount: 10n ** 18n,
    signed: 0n,
    expiry: 1_800_000_000,
    status: "open",
  });
  for (const jobId of ["job-00000001", "job-00000002"]) {
    insertSubmitterJob(store, {
      jobId,
      provider: PROVIDER,
      channelId: 7n,
      channelBase: 0n,
      agreement: "{}",
      spec: "{}",
      budget: 10n ** 18n,
      createdAt: 1,
    });
  }
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const voucher = (cumulative: bigint, noteSeq: number, jobId = "job-00000001") => ({
  channelId: 7n,
  cumulative,
  signature: SIG,
  jobId,
  noteSeq,
});

describe("recordSignedVoucher", () => {
  it("stores the voucher and raises what the channel has signed, durably", () => {
    recordSignedVoucher(store, voucher(100n, 0));
    recordSignedVoucher(store, voucher(2n ** 80n, 1));
    store.close();
    store = openSubmitterStore(path);
    expect(getChannel(store, 7n)?.signed).toBe(2n ** 80n);
    expect(listJobVouchers(store, "job-00000001").map((v) => [v.noteSeq, v.cumulativeAmount])).toEqual([
      [0, 100n],
      [1, 2n ** 80n],
    ]);
  });

  it("accepts the same amount again (a resent voucher) without a second row", () => {
    recordSignedVoucher(store, voucher(100n, 0));
    recordSignedVoucher(store, voucher(100n, 0));
    expect(listJobVouchers(store, "job-00000001")).toHaveLength(1);
    expect(getChannel(store, 7n)?.signed).toBe(100n);
  });

  it("refuses to go below what was signed, even by one unit, and writes nothing", () => {
    recordSignedVoucher(store, voucher(100n, 0));
    expect(() => recordSignedVoucher(store, voucher(99n, 1, "job-00000002"))).toThrow(
      "channel 7 already signed above 99",
    );
    expect(getChannel(store, 7n)?.signed).toBe(100n);
    expect(listJobVouchers(store, "job-00000002")).toEqual([]);
  });

  it("compares amounts as numbers, not text (9 < 10)", () => {
    recordSignedVoucher(store, voucher(10n, 0));
    expect(() => recordSignedVoucher(store, voucher(9n, 1))).toThrow(/already signed above 9/);
    recordSignedVoucher(store, voucher(11n, 1));
    expect(getChannel(store, 7n)?.signed).toBe(11n);
  });

  it("refuses an unknown channel", () => {
    expect(() => recordSignedVoucher(store, { ...voucher(1n, 0), channelId: 8n })).toThrow(
      "unknown channel 8",
    );
  });

  it("writes the voucher and the channel's signed amount together or not at all", () => {
    // Make the second write of the transaction fail: the first must be rolled back with it.
    store.db.exec(
      "CREATE TRIGGER fail_signed BEFORE UPDATE OF signed ON channels BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    expect(() => recordSignedVoucher(store, voucher(100n, 0))).toThrow(/disk full/);
    expect(listJobVouchers(store, "job-00000001")).toEqual([]);
    expect(getChannel(store, 7n)?.signed).toBe(0n);
    expect(store.db.isTransaction).toBe(false);
  });

  it("is not lowered by re-recording the channel after a voucher", () => {
    recordSignedVoucher(store, voucher(500n, 0));
    upsertChannel(store, {
      channelId: 7n,
      escrow: ESCROW,
      provider: PROVIDER,
      amount: 2n * 10n ** 18n,
      signed: 0n,
      expiry: 1_900_000_000,
      status: "open",
    });
    expect(getChannel(store, 7n)).toMatchObject({
      signed: 500n,
      amount: 2n * 10n ** 18n,
      expiry: 1_900_000_000,
    });
  });
});

describe("claimChannel", () => {
  it("lets one job at a time hold a channel", () => {
    expect(claimChannel(store, 7n, "job-00000001")).toBe(true);
    expect(claimChannel(store, 7n, "job-00000002")).toBe(false);
    expect(claimChannel(store, 7n, "job-00000001")).toBe(false);
    expect(getChannel(store, 7n)?.busyJob).toBe("job-00000001");
    expect(claimChannel(store, 7n, null)).toBe(true);
    expect(claimChannel(store, 7n, "job-00000002")).toBe(true);
    expect(getChannel(store, 7n)?.busyJob).toBe("job-00000002");
  });

  it("cannot claim a channel it does not know", () => {
    expect(claimChannel(store, 8n, "job-00000001")).toBe(false);
  });

  it("is exclusive across two connections to the same file (two CLI processes)", () => {
    const other = openSubmitterStore(path);
    try {
      const results = [claimChannel(store, 7n, "job-00000001"), claimChannel(other, 7n, "job-00000002")];
      expect(results).toEqual([true, false]);
      expect(getChannel(other, 7n)?.busyJob).toBe("job-00000001");
    } finally {
      other.close();
    }
  });
});
