import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { signedSince, startOfUtcDay } from "../../../marketplace/client/signedSince.ts";
import { SpendCapError } from "../../../marketplace/client/spendCapRefusal.ts";
import {
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
const DAY = 86_400_000;
// Noon UTC on some day, and the same day's last millisecond.
const NOON = Date.UTC(2026, 2, 10, 12);
const LATE = Date.UTC(2026, 2, 10, 23, 59, 59, 999);

let dir: string;
let store: Store;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-caps-"));
  store = openSubmitterStore(join(dir, "submitter.db"));
  for (const channelId of [1n, 2n]) {
    upsertChannel(store, {
      channelId,
      escrow: ESCROW,
      provider: PROVIDER,
      amount: 10n ** 20n,
      signed: 0n,
      expiry: 1_900_000_000,
      status: "open",
    });
  }
  for (const [jobId, channelId] of [
    ["job-caps-0001", 1n],
    ["job-caps-0002", 1n],
    ["job-caps-0003", 2n],
  ] as const) {
    insertSubmitterJob(store, {
      jobId,
      provider: PROVIDER,
      channelId,
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

const sign = (
  channelId: bigint,
  cumulative: bigint,
  jobId: string,
  noteSeq: number,
  now: number,
  caps?: {
    dailyCap: bigint | null;
    channelCap: bigint | null;
  },
) => recordSignedVoucher(store, { channelId, cumulative, signature: SIG, jobId, noteSeq }, caps, now);

describe("spend caps", () => {
  it("counts what was signed since midnight UTC as voucher deltas, over jobs and channels", () => {
    sign(1n, 100n, "job-caps-0001", 0, NOON - DAY); // yesterday
    sign(1n, 150n, "job-caps-0001", 1, NOON); // +50 today
    sign(1n, 170n, "job-caps-0002", 0, NOON + 1); // the channel reused by another job: +20
    sign(2n, 30n, "job-caps-0003", 0, LATE); // another channel: +30
    expect(signedSince(store, startOfUtcDay(NOON))).toBe(100n);
    expect(signedSince(store, startOfUtcDay(NOON - DAY))).toBe(200n);
    expect(signedSince(store, startOfUtcDay(NOON + DAY))).toBe(0n);
    expect(startOfUtcDay(LATE)).toBe(Date.UTC(2026, 2, 10));
  });

  it("refuses a voucher that would cross the daily cap, recording nothing, and allows one that lands on it", () => {
    const caps = { dailyCap: 100n, channelCap: null };
    sign(1n, 500n, "job-caps-0001", 0, NOON - DAY); // yesterday (uncapped then): not counted today
    sign(1n, 560n, "job-caps-0001", 1, NOON, caps); // +60
    expect(() => sign(2n, 41n, "job-caps-0003", 0, NOON, caps)).toThrow(SpendCapError);
    expect(() => sign(2n, 41n, "job-caps-0003", 0, NOON, caps)).toThrow(
      "daily cap: 60 signed today (UTC) + 41 would be 101, above the cap of 100",
    );
    expect(listJobVouchers(store, "job-caps-0003")).toEqual([]);
    expect(getChannel(store, 2n)?.signed).toBe(0n);
    sign(2n, 40n, "job-caps-0003", 0, NOON, caps);
    expect(signedSince(store, startOfUtcDay(NOON))).toBe(100n);
    // The next UTC day starts from zero.
    sign(2n, 140n, "job-caps-0003", 1, NOON + DAY, caps);
  });

  it("refuses a voucher above the channel cap, whatever the job", () => {
    const caps = { dailyCap: null, channelCap: 1_000n };
    sign(1n, 1_000n, "job-caps-0001", 0, NOON, caps);
    expect(() => sign(1n, 1_001n, "job-caps-0002", 0, NOON, caps)).toThrow(
      "channel cap: channel 1 would reach 1001, above the cap of 1000",
    );
    expect(getChannel(store, 1n)?.signed).toBe(1_000n);
  });

  it("leaves signing unlimited without caps", () => {
    sign(1n, 10n ** 30n, "job-caps-0001", 0, NOON);
    expect(getChannel(store, 1n)?.signed).toBe(10n ** 30n);
  });
});
