// The budget boundary: the note that crosses the payer's budget used to be refused whole, so the
// provider did that interval's work for nothing. Now the payer signs exactly its budget and stops
// the job; on-chain, the channel pays exactly the budget; both sides' invoices show the cut. Real
// parts: anvil, a provider process.
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { jobInvoice } from "../../marketplace/cli/commands/job.ts";
import { resolveGlobalOptions } from "../../marketplace/cli/globalOptions.ts";
import { submitJob } from "../../marketplace/client/submitJob.ts";
import { verifyJob } from "../../marketplace/client/verifyJob.ts";
import { toJsonValue } from "../../marketplace/messages/json.ts";
import { createCleanups } from "./support/cleanups.ts";
import { GRID, type Market, startMarket } from "./support/market.ts";
import { burnScript, createTestSubmitter, GPU_CLASS, startTestProvider } from "./support/nodes.ts";
import { getJson, waitFor } from "./support/waitFor.ts";

let market: Market;
const cleanups = createCleanups();
beforeAll(async () => {
  market = await startMarket();
});
afterEach(() => cleanups.run());
afterAll(() => market?.stop());

describe("a job that reaches its budget", () => {
  it("is paid exactly the budget, no more and no less, and stops", async () => {
    const provider = await startTestProvider(market);
    cleanups.add(() => provider.stop());
    const payer = await createTestSubmitter(market, [provider]);
    cleanups.add(() => payer.submitter.close());
    // About 1.2 s of one H100 at 3 GRID/h (plus a little CPU and memory): a 20 s job crosses it.
    const budget = GRID / 1_000n;
    const verdicts: string[] = [];
    const result = await submitJob(payer.submitter, {
      requirements: { gpus: 1, gpuClass: GPU_CLASS, cpuCores: 1, memMiB: 512, maxDurationS: 120 },
      maxRates: [{ meter: "gpu_ms", price: 5n * GRID, per: 3_600_000n }],
      budget,
      spec: { command: process.execPath, args: ["-e", burnScript(20_000)], env: {}, outputs: [] },
      inputs: [],
      outputDir: join(market.work, "out-budget"),
      bidWindowMs: 1_000,
      explain: false,
      redeemWaitMs: 15_000,
      events: { onNote: (_note, verdict) => verdicts.push(verdict) },
    });
    expect(result.status).toBe("cancelled");
    expect(result.reason).toMatch(/budget/);
    expect(result.amount).toBe(budget);
    expect(verdicts.some((v) => /exceeds the budget/.test(v))).toBe(true);
    // The job stopped at the budget, long before its 20 s.
    expect((result.endedAt ?? 0) - (result.startedAt ?? 0)).toBeLessThan(10_000);
    // On-chain: the channel paid exactly the budget (this channel's first job: its base is 0).
    await waitFor("the budget voucher redeemed", async () =>
      (await market.channel(result.channelId)).redeemed === budget ? true : undefined,
    );
    const events = await market.redeemedEvents({ channelId: result.channelId });
    expect(events.at(-1)?.cumulativeAmount).toBe(budget);
    expect(events.reduce((s, e) => s + e.paid + e.fee, 0n)).toBe(budget);

    // The invoice bills the budget's note in full, then takes what it asked above the budget off
    // (`budget_cap`): the lines sum to the budget paid. The provider's is the submitter's.
    type Invoice = {
      lines: { meter: string; amount: string }[];
      total: string;
      budgetCapApplied: boolean;
      trace: {
        notes: { seq: number; jobAmount: string }[];
        vouchers: { noteSeq: number; redeemTx: string | null }[];
      };
    };
    const providerInvoice = await waitFor("the redeem tx in the provider's invoice", async () => {
      const invoice = await getJson<Invoice>(provider.api(`/v1/jobs/${result.jobId}/invoice`));
      return invoice.trace.vouchers.at(-1)?.redeemTx === result.redeemTx ? invoice : undefined;
    });
    expect(providerInvoice.total).toBe(budget.toString());
    expect(providerInvoice.budgetCapApplied).toBe(true);
    const cap = providerInvoice.lines.at(-1);
    const asked = BigInt(providerInvoice.trace.notes.at(-1)?.jobAmount ?? "0");
    expect(cap).toMatchObject({ meter: "budget_cap", amount: (budget - asked).toString() });
    expect(asked).toBeGreaterThan(budget);
    expect(providerInvoice.lines.reduce((s, l) => s + BigInt(l.amount), 0n)).toBe(budget);
    expect(providerInvoice.trace.vouchers.at(-1)?.noteSeq).toBe(providerInvoice.trace.notes.at(-1)?.seq);
    const saved = process.env.GRIDSPOT_PRIVATE_KEY;
    process.env.GRIDSPOT_PRIVATE_KEY = payer.key;
    const submitterInvoice = await jobInvoice(
      resolveGlobalOptions(
        { json: true, dataDir: payer.dataDir, rpcUrl: market.rpcUrl, deployments: market.deploymentsDir },
        "submitter",
      ),
      { jobId: result.jobId, csv: false },
    ).finally(() => {
      if (saved === undefined) delete process.env.GRIDSPOT_PRIVATE_KEY;
      else process.env.GRIDSPOT_PRIVATE_KEY = saved;
    });
    expect(providerInvoice).toEqual(toJsonValue(submitterInvoice.json));
    expect(submitterInvoice.text).toMatch(/budget_cap .* = -0\.\d+ GRID/);
    expect(submitterInvoice.text).toContain("(capped at the budget)");
    // And `job verify` passes: the budget voucher is below the note it answers, above the last paid.
    const verified = await verifyJob(payer.submitter, result.jobId);
    expect(verified.checks.filter((c) => !c.ok)).toEqual([]);
    expect(verified.ok).toBe(true);
  });
});
