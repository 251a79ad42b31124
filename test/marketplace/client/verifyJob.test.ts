import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSubmitter, type Submitter } from "../../../marketplace/client/createSubmitter.ts";
import { verifyJob } from "../../../marketplace/client/verifyJob.ts";
import { UsageError } from "../../../marketplace/errors/usage.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import { GRID, HOUR_MS } from "../messages/fixtures.ts";
import { type BilledJob, billedJob, storeBilledJob } from "../receipt/billedJob.ts";
import { type ChainChannel, chainChannel } from "./chainChannel.ts";

const RATES: Rate[] = [
  {
    meter: "gpu_ms",
    price: GRID,
    per: HOUR_MS,
    tiers: { mode: "graduated", bands: [{ upTo: 10_000n, price: 3n * GRID }] },
  },
  { meter: "cpu_core_ms", price: GRID / 50n, per: HOUR_MS },
];

let net: ChainChannel;
let dataDir: string;
let submitter: Submitter;
let job: BilledJob;

beforeAll(async () => {
  net = await chainChannel(10n * GRID);
  dataDir = await mkdtemp(join(tmpdir(), "gridspot-verify-"));
  submitter = await createSubmitter(
    { dataDir, rpcUrl: net.chain.rpcUrl, deploymentsDir: net.deploymentsDir, bootstrap: [] },
    privateKeyToAccount(net.payerKey),
  );
  job = await billedJob({
    chainId: net.chain.chainId,
    escrow: net.deployment.contracts.computeEscrow,
    providerKey: net.providerKey,
    submitterKey: net.payerKey,
    channelId: net.channelId,
    rates: RATES,
    minimumCharge: GRID / 100n,
    usages: [
      { gpu_ms: 5_000n, cpu_core_ms: 2_000n },
      { gpu_ms: 15_000n, cpu_core_ms: 6_000n },
      { gpu_ms: 30_000n, cpu_core_ms: 9_000n },
    ],
  });
  storeBilledJob(submitter.store, job, { channelAmount: 10n * GRID, budget: GRID });
});

afterAll(async () => {
  await submitter?.close();
  await net?.stop();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  if (net?.deploymentsDir !== undefined) await rm(net.deploymentsDir, { recursive: true, force: true });
});

const failed = (r: Awaited<ReturnType<typeof verifyJob>>) => r.checks.filter((c) => !c.ok).map((c) => c.name);

describe("verifyJob", () => {
  it("fails only the on-chain check while the last voucher is not redeemed, then passes every check", async () => {
    const before = await verifyJob(submitter, job.agreement.jobId);
    expect(before.ok).toBe(false);
    expect(failed(before)).toEqual(["on-chain redemption"]);
    expect(before.checks.at(-1)?.detail).toMatch(/redemptions reach 0, not the last voucher's \d+/);

    // The provider redeems an early voucher: still short of the last one.
    const [first, , last] = job.vouchers;
    if (first === undefined || last === undefined) throw new Error("fixture");
    await net.redeem(first.cumulativeAmount, first.signature);
    expect(failed(await verifyJob(submitter, job.agreement.jobId))).toEqual(["on-chain redemption"]);

    const tx = await net.redeem(last.cumulativeAmount, last.signature);
    const after = await verifyJob(submitter, job.agreement.jobId);
    expect(after.checks.map((c) => c.name)).toEqual([
      "agreement signatures",
      "note signatures",
      "note amounts",
      "note sequence",
      "monotonic amounts",
      "vouchers match notes",
      "on-chain redemption",
    ]);
    expect(failed(after)).toEqual([]);
    expect(after.ok).toBe(true);
    expect(after.checks.at(-1)?.detail).toContain(tx);
  });

  it("detects a note tampered with in the store (fewer GPU-ms than the provider signed)", async () => {
    const { db } = submitter.store;
    const row = db
      .prepare("SELECT envelope FROM notes WHERE job_id = ? AND seq = 2")
      .get(job.agreement.jobId) as {
      envelope: string;
    };
    const tampered = row.envelope.replace(
      /\\"gpu_ms\\",\\"quantity\\":\\"30000\\"/,
      '\\"gpu_ms\\",\\"quantity\\":\\"29000\\"',
    );
    expect(tampered).not.toBe(row.envelope);
    db.prepare("UPDATE notes SET envelope = ? WHERE job_id = ? AND seq = 2").run(
      tampered,
      job.agreement.jobId,
    );
    try {
      const result = await verifyJob(submitter, job.agreement.jobId);
      expect(result.ok).toBe(false);
      expect(failed(result)).toEqual(["note signatures", "note sequence", "vouchers match notes"]);
    } finally {
      db.prepare("UPDATE notes SET envelope = ? WHERE job_id = ? AND seq = 2").run(
        row.envelope,
        job.agreement.jobId,
      );
    }
    expect((await verifyJob(submitter, job.agreement.jobId)).ok).toBe(true);
  });

  it("detects a stored voucher amount that differs from what was signed", async () => {
    const { db } = submitter.store;
    const id = job.agreement.jobId;
    db.prepare("UPDATE vouchers SET cumulative = '1' WHERE job_id = ? AND note_seq = 0").run(id);
    try {
      expect(failed(await verifyJob(submitter, id))).toEqual(["vouchers match notes"]);
    } finally {
      db.prepare("UPDATE vouchers SET cumulative = ? WHERE job_id = ? AND note_seq = 0").run(
        job.vouchers[0]?.cumulativeAmount.toString() ?? "",
        id,
      );
    }
  });

  it("refuses an unknown job as a usage error", async () => {
    await expect(verifyJob(submitter, "job-unknown-1")).rejects.toBeInstanceOf(UsageError);
  });
});
