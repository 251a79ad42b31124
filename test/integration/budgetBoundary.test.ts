// The budget boundary: the note that crosses the payer's budget used to be refused whole, so the
// provider did that interval's work for nothing. Now the payer signs exactly its budget and stops
// the job; on-chain, the channel pays exactly the budget. Real parts: anvil, a provider process.
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { submitJob } from "../../marketplace/client/submitJob.ts";
import { createCleanups } from "./support/cleanups.ts";
import { GRID, type Market, startMarket } from "./support/market.ts";
import { burnScript, createTestSubmitter, GPU_CLASS, startTestProvider } from "./support/nodes.ts";
import { waitFor } from "./support/waitFor.ts";

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
  });
});
