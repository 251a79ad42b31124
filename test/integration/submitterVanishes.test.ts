// The submitter vanishes mid-job (SIGKILL of its process): the provider stops getting vouchers,
// suspends the job, kills it, ends it `suspended`, and redeems the last voucher it holds. What it
// ran unpaid is bounded by the agreement: at most graceIntervals + 1 receipt intervals of value.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { settleOrphanedJobs } from "../../marketplace/client/settleOrphanedJobs.ts";
import {
  getSubmitterJob,
  listJobVouchers,
  openSubmitterStore,
} from "../../marketplace/client/submitterStore.ts";
import { agreement as agreementSchema } from "../../marketplace/messages/agreement.ts";
import { createCleanups } from "./support/cleanups.ts";
import { GRID, type Market, startMarket } from "./support/market.ts";
import { METER_INTERVAL_MS, startTestProvider, worthOf } from "./support/nodes.ts";
import { killProcessesIn } from "./support/processesIn.ts";
import type { SubmitterProcessInput } from "./support/submitterProcess.ts";
import { getJson, waitFor } from "./support/waitFor.ts";

/** The submitter freezes (then is killed) after signing and sending the vouchers for notes 0 and 1. */
const FREEZE_AFTER_NOTE = 1;
/**
 * Longer receipts than the other tests, so the bound stands well clear of timer noise: a provider
 * that suspends one interval late, or bills its suspended time, misses it by a second or more.
 */
const RECEIPTS = { intervalMs: 1_000, graceIntervals: 2 };
/**
 * Timer, signal and signing latency allowed on top of the (grace + 1) intervals of unpaid running
 * time, on a loaded 2-core machine (CI runs two test files at once). Still under one interval, so a
 * provider that suspends an interval late is caught.
 */
const SCHEDULING_TOLERANCE_MS = 750;

let market: Market;
const cleanups = createCleanups();

beforeAll(async () => {
  market = await startMarket();
});
afterEach(() => cleanups.run());
afterAll(() => market?.stop());

type ApiJob = {
  status: string;
  reason: string;
  startedAt: number;
  endedAt: number | null;
  channelBase: string;
  jobAmount: string;
  notes: { seq: number; jobAmount: string }[];
  vouchers: { cumulativeAmount: string; noteSeq: number; redeemTx: string | null }[];
};

/** Lines the submitter process prints, parsed; resolves `frozen` when it freezes. */
function watchSubmitter(child: ChildProcess) {
  const lines: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const frozen = new Promise<Record<string, unknown>>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      lines.push(parsed);
      if (parsed.event === "frozen") resolve(parsed);
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`the submitter exited (${code ?? signal}) before freezing:\n${stderr}`)),
    );
  });
  return { lines, frozen, stderr: () => stderr };
}

describe("the submitter vanishing mid-job", () => {
  it("makes the provider suspend, kill and end the job, and redeem the last voucher; its loss is bounded", async () => {
    const provider = await startTestProvider(market, { config: { receipts: RECEIPTS } });
    cleanups.add(() => provider.stop());
    cleanups.add(() => killProcessesIn(join(provider.dataDir, "jobs")));
    const { key } = await market.fundAccount(10n * GRID);
    const dataDir = join(market.work, "vanishing-submitter");
    const input: SubmitterProcessInput = {
      rpcUrl: market.rpcUrl,
      deploymentsDir: market.deploymentsDir,
      dataDir,
      bootstrap: [provider.info.multiaddrs[0] ?? ""],
      outputDir: join(market.work, "out-vanish"),
      burnMs: 20_000,
      freezeAfterNote: FREEZE_AFTER_NOTE,
      // Voucher 1 leaves at once; note 2 is due a receipt interval after note 1.
      freezeDelayMs: RECEIPTS.intervalMs / 4,
      freezeMs: 30_000,
    };
    const child = spawn(process.execPath, [join(import.meta.dirname, "support", "submitterProcess.ts")], {
      env: {
        ...process.env,
        GRIDSPOT_PRIVATE_KEY: key,
        GRIDSPOT_TEST_SUBMITTER: JSON.stringify(input),
        GRIDSPOT_LOG: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    cleanups.add(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    });
    const watched = watchSubmitter(child);
    const timeout = AbortSignal.timeout(40_000);
    await Promise.race([
      watched.frozen,
      new Promise((_, reject) =>
        timeout.addEventListener("abort", () => reject(new Error(`no freeze in time:\n${watched.stderr()}`))),
      ),
    ]);
    child.kill("SIGKILL");
    await exited;
    const firstNote = watched.lines.find((l) => l.event === "note");
    const jobId = String(firstNote?.jobId);
    const channelId = BigInt(String(firstNote?.channelId));

    // What the submitter signed, from its own store: vouchers for notes 0 and 1, nothing after.
    const store = openSubmitterStore(join(dataDir, "submitter.db"));
    cleanups.add(() => store.close());
    const signed = listJobVouchers(store, jobId);
    expect(signed.map((v) => v.noteSeq)).toEqual([0, 1]);
    const highestSigned = signed.at(-1)?.cumulativeAmount ?? -1n;
    const stored = getSubmitterJob(store, jobId);
    const signatures = JSON.parse(stored?.agreement ?? "{}") as { provider: { payload: string } };
    const agreement = agreementSchema.parse(JSON.parse(signatures.provider.payload));

    // The provider ends the job on its own, well before the 20 s burn would have.
    const job = await waitFor(
      "the provider to end the job",
      async () => {
        const j = await getJson<ApiJob>(provider.api(`/v1/jobs/${jobId}`));
        return j.status === "running" ? undefined : j;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(job.status).toBe("suspended");
    expect(job.reason).toBe("no voucher from the submitter within the grace period");
    expect(provider.log()).toMatch(/no voucher within the grace period.*: job suspended/);
    expect((job.endedAt ?? Number.POSITIVE_INFINITY) - job.startedAt).toBeLessThan(input.burnMs);

    // It redeems the last voucher it holds, which is the highest the submitter signed.
    const redeemed = await waitFor(
      "the provider to redeem",
      async () => {
        const events = await market.redeemedEvents({ channelId });
        return events.length > 0 ? events : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    expect(redeemed).toHaveLength(1);
    expect(redeemed[0]?.cumulativeAmount).toBe(highestSigned);
    expect((await market.channel(channelId)).redeemed).toBe(highestSigned);
    const held = job.vouchers.at(-1);
    expect(BigInt(held?.cumulativeAmount ?? -1n)).toBe(highestSigned);

    // Bounded loss: what the provider billed past the last voucher is at most (grace + 1) receipt
    // intervals of the agreement's rates: the interval the unpaid note covers, then the grace period
    // until the job is suspended. The meter samples every METER_INTERVAL_MS, so a note bills up to
    // that much less than ran before it; timers and signals take a moment: both are allowed for.
    const finalAmount = BigInt(job.notes.at(-1)?.jobAmount ?? -1n);
    expect(finalAmount).toBe(BigInt(job.jobAmount));
    const lastVoucherJobAmount = highestSigned - BigInt(job.channelBase);
    const unpaid = finalAmount - lastVoucherJobAmount;
    expect(unpaid).toBeGreaterThan(0n);
    const allowanceMs =
      BigInt((agreement.graceIntervals + 1) * agreement.receiptIntervalMs) +
      BigInt(METER_INTERVAL_MS + SCHEDULING_TOLERANCE_MS);
    const bound = worthOf(agreement, allowanceMs);
    const unpaidMs = (unpaid * 1_000_000n) / worthOf(agreement, 1_000_000n);
    expect(
      unpaid,
      `unpaid ${unpaid} (~${unpaidMs} ms at full use) exceeds ${bound} (${allowanceMs} ms at full use)`,
    ).toBeLessThanOrEqual(bound);

    // The submitter's side recovers: the next time its store is opened (any command), the job its
    // dead CLI left `running` ends `lost` and its channel is free for the next job.
    expect(stored?.status).toBe("running");
    expect(settleOrphanedJobs(store)).toEqual([jobId]);
    expect(getSubmitterJob(store, jobId)?.status).toBe("lost");
    const busy = store.db
      .prepare("SELECT busy_job FROM channels WHERE channel_id = ?")
      .get(channelId.toString()) as {
      busy_job: string | null;
    };
    expect(busy.busy_job).toBeNull();
  });
});
