// A job whose command fails: it ends `failed` with the command's exit code, is billed only for the
// time it ran, and the voucher for that is redeemed on-chain.
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createCleanups } from "./support/cleanups.ts";
import { type Market, startMarket } from "./support/market.ts";
import { createTestSubmitter, startTestProvider, submitBurnJob } from "./support/nodes.ts";
import { getJson, waitFor } from "./support/waitFor.ts";

/**
 * What gpu_ms may exceed the job's own measure of its run by: starting the interpreter before the
 * script's first line, exiting after its last, and the meter's last sample after the exit.
 */
const STARTUP_AND_EXIT_TOLERANCE_MS = 1_500n;

let market: Market;
const cleanups = createCleanups();

beforeAll(async () => {
  market = await startMarket();
});
afterEach(() => cleanups.run());
afterAll(() => market?.stop());

describe("a job whose command fails", () => {
  it("ends failed with exit code 3, billed only for the time it ran, and its voucher redeemed", async () => {
    const provider = await startTestProvider(market);
    cleanups.add(() => provider.stop());
    const payer = await createTestSubmitter(market, [provider]);
    cleanups.add(() => payer.submitter.close());
    const providerBefore = await market.tokenBalance(provider.address);

    let stdout = "";
    const gpus = 2;
    const result = await submitBurnJob(payer, {
      ms: 1_000,
      exitCode: 3,
      gpus,
      outputDir: join(market.work, "out-failed"),
      onLog: (stream, data) => {
        if (stream === "stdout") stdout += data.toString("utf8");
      },
    });

    expect(result.status).toBe("failed");
    expect(result.exitCode).toBe(3);
    expect(result.reason).toContain("exit code 3");
    // The job's own measure of how long it ran, printed as its last line.
    const wallMs = BigInt(/wall (\d+)/.exec(stdout)?.[1] ?? Number.NaN);
    expect(wallMs).toBeGreaterThanOrEqual(1_000n);
    const gpuMs = result.usage.gpu_ms ?? 0n;
    expect(gpuMs).toBeGreaterThanOrEqual(BigInt(gpus) * wallMs);
    expect(gpuMs).toBeLessThanOrEqual(BigInt(gpus) * (wallMs + STARTUP_AND_EXIT_TOLERANCE_MS));
    expect(result.amount).toBeGreaterThan(0n);

    // The final voucher covers the whole amount and the chain paid it.
    const last = result.vouchers.at(-1);
    expect(last?.cumulativeAmount).toBe(result.amount);
    expect(result.redeemTx).not.toBeNull();
    const channel = await market.channel(result.channelId);
    expect(channel.redeemed).toBe(result.amount);
    const events = await market.redeemedEvents({ channelId: result.channelId });
    expect(events).toHaveLength(1);
    expect(events[0]?.tx).toBe(result.redeemTx);
    expect(await market.tokenBalance(provider.address)).toBe(providerBefore + (events[0]?.paid ?? 0n));

    const job = await waitFor("the failed job in the operator API", async () => {
      const j = await getJson<{ status: string; exitCode: number | null; jobAmount: string }>(
        provider.api(`/v1/jobs/${result.jobId}`),
      );
      return j.status === "running" ? undefined : j;
    });
    expect(job.status).toBe("failed");
    expect(job.exitCode).toBe(3);
    expect(BigInt(job.jobAmount)).toBe(result.amount);
  });
});
