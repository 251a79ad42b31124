// A job from order to redemption on real parts: anvil, the deployed contracts, a provider node as
// its own process, and the submitter's CLI code in this process. Money is checked on-chain.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createCleanups } from "./support/cleanups.ts";
import { FEE_BPS, type Market, startMarket } from "./support/market.ts";
import { createTestSubmitter, GPU_CLASS, startTestProvider, submitBurnJob } from "./support/nodes.ts";
import { getJson, waitFor } from "./support/waitFor.ts";

let market: Market;
const cleanups = createCleanups();

beforeAll(async () => {
  market = await startMarket();
});
afterEach(() => cleanups.run());
afterAll(() => market?.stop());

type ApiJob = {
  jobId: string;
  status: string;
  exitCode: number | null;
  jobAmount: string;
  usage: Record<string, string>;
  notes: { seq: number; jobAmount: string; channelCumulative: string }[];
  vouchers: { cumulativeAmount: string; noteSeq: number; redeemTx: string | null }[];
};

describe("a job end to end", () => {
  it("completes, is paid on-chain exactly what the vouchers say, and the operator API shows it", async () => {
    const provider = await startTestProvider(market);
    cleanups.add(() => provider.stop());
    const payer = await createTestSubmitter(market, [provider]);
    cleanups.add(() => payer.submitter.close());
    const outputDir = join(market.work, "out-happy");
    const providerBefore = await market.tokenBalance(provider.address);
    const payerBefore = await market.tokenBalance(payer.address);

    const result = await submitBurnJob(payer, {
      ms: 2_500,
      outputDir,
      inputs: [{ path: "in.txt", data: new TextEncoder().encode("the input") }],
    });

    // The submitter's view.
    expect(result.status).toBe("completed");
    expect(result.exitCode).toBe(0);
    expect(result.provider).toBe(provider.address);
    expect(result.gpuClass).toBe(GPU_CLASS);
    for (const meter of ["gpu_ms", "cpu_core_ms", "mem_mib_ms"])
      expect(result.usage[meter]).toBeGreaterThan(0n);
    // One GPU for a 2.5 s burn: at least the burn, and not the job's 120 s maximum.
    expect(result.usage.gpu_ms).toBeGreaterThanOrEqual(2_500n);
    expect(result.usage.gpu_ms).toBeLessThan(10_000n);
    expect(result.amount).toBeGreaterThan(0n);
    expect(result.vouchers.length).toBeGreaterThanOrEqual(1);
    const last = result.vouchers.at(-1);
    expect(last?.cumulativeAmount).toBe(result.amount); // a fresh channel: base 0
    expect(result.redeemTx).toMatch(/^0x[0-9a-f]{64}$/);

    // The chain's view: the channel redeemed the last voucher, the provider got `paid`, the fee the rest.
    const channel = await market.channel(result.channelId);
    expect(channel.payer).toBe(payer.address);
    expect(channel.provider).toBe(provider.address);
    expect(channel.redeemed).toBe(last?.cumulativeAmount);
    const events = await market.redeemedEvents({ provider: provider.address });
    expect(events.map((e) => e.tx)).toContain(result.redeemTx);
    const paid = events.reduce((sum, e) => sum + e.paid, 0n);
    const fees = events.reduce((sum, e) => sum + e.fee, 0n);
    expect(paid + fees).toBe(channel.redeemed);
    expect(fees).toBe((channel.redeemed * BigInt(FEE_BPS)) / 10_000n);
    expect(await market.tokenBalance(provider.address)).toBe(providerBefore + paid);
    // The payer moved the budget into the escrow; nothing else left its wallet.
    expect(await market.tokenBalance(payer.address)).toBe(payerBefore - result.budget);

    // The outputs, written under the out dir.
    expect(result.outputs).toEqual([join(outputDir, result.jobId, "result.txt")]);
    expect(await readFile(join(outputDir, result.jobId, "result.txt"), "utf8")).toBe("burned the input");

    // The operator API: the job, its notes, and its vouchers with the transaction that redeemed them.
    const job = await waitFor("the redeem tx in the operator API", async () => {
      const j = await getJson<ApiJob>(provider.api(`/v1/jobs/${result.jobId}`));
      return j.vouchers.at(-1)?.redeemTx === result.redeemTx ? j : undefined;
    });
    expect(job.status).toBe("completed");
    expect(job.exitCode).toBe(0);
    expect(BigInt(job.jobAmount)).toBe(result.amount);
    expect(Object.fromEntries(Object.entries(job.usage).map(([m, q]) => [m, BigInt(q)]))).toEqual(
      result.usage,
    );
    // The API lists each voucher once; the CLI signed one per note, and two notes of equal amount
    // (nothing metered between them, as when a job ends right after a note) share one voucher.
    expect(job.vouchers.map((v) => BigInt(v.cumulativeAmount))).toEqual([
      ...new Set(result.vouchers.map((v) => v.cumulativeAmount)),
    ]);
    for (const v of job.vouchers) expect(v.redeemTx).toBe(result.redeemTx);
    expect(job.notes.length).toBe(result.notes);

    const metrics = await (await fetch(provider.api("/metrics"))).text();
    const metric = (name: string) => {
      const line = metrics.split("\n").find((l) => l.startsWith(`${name} `));
      if (line === undefined) throw new Error(`no ${name} in\n${metrics}`);
      return BigInt(line.slice(name.length + 1));
    };
    expect(metric('gridspot_jobs_total{status="completed"}')).toBe(1n);
    expect(metric("gridspot_jobs_running")).toBe(0n);
    expect(metric("gridspot_gpu_ms_billed_total")).toBe(result.usage.gpu_ms);
    expect(metric("gridspot_tokens_earned_total")).toBe(result.amount);
    // Counted as the API lists them: one per distinct voucher (see above).
    expect(metric("gridspot_vouchers_redeemed")).toBe(BigInt(job.vouchers.length));
    expect(metric("gridspot_vouchers_pending")).toBe(0n);
  });
});
