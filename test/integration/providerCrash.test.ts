// A provider SIGKILLed mid-job and restarted on the same data dir: it marks the job failed,
// redeems the newest voucher it stored before dying, and never gets paid twice for it.
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { probeBwrap } from "../../node/run/process/probeBwrap.ts";
import { createCleanups } from "./support/cleanups.ts";
import { type Market, startMarket } from "./support/market.ts";
import { createTestSubmitter, startTestProvider, submitBurnJob } from "./support/nodes.ts";
import { killProcessesIn, processesIn } from "./support/processesIn.ts";
import { getJson, waitFor } from "./support/waitFor.ts";

const ADMIN_TOKEN = "integration-admin-token-0123456789";
/** The note whose arrival kills the provider: vouchers for notes 0 and 1 have reached it by then. */
const KILL_AT_NOTE = 2;

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
  vouchers: { cumulativeAmount: string; noteSeq: number; redeemTx: string | null }[];
};

describe("a provider killed mid-job", () => {
  it("restarts, marks the job failed, redeems the newest voucher once, and a second redeem pays nothing", async () => {
    const env = { GRIDSPOT_ADMIN_TOKEN: ADMIN_TOKEN };
    const first = await startTestProvider(market, { env });
    cleanups.add(() => first.stop());
    cleanups.add(() => killProcessesIn(join(first.dataDir, "jobs")));
    const payer = await createTestSubmitter(market, [first]);
    cleanups.add(() => payer.submitter.close());
    const providerBefore = await market.tokenBalance(first.address);

    // SIGKILL the node the moment note 2 arrives, before its voucher is signed.
    const pending = submitBurnJob(payer, {
      ms: 20_000,
      outputDir: join(market.work, "out-crash"),
      redeemWaitMs: 1_000,
      onNote: (note, verdict) => {
        if (note.seq === KILL_AT_NOTE && verdict === "accepted") first.process.child.kill("SIGKILL");
      },
    });
    const result = await pending;
    await first.stop();
    expect(first.process.child.signalCode).toBe("SIGKILL");
    // A sandboxed job dies with its node (bwrap --die-with-parent); unsandboxed it would outlive it.
    if ((await probeBwrap()).available)
      await waitFor("the job's processes to die with the node", () =>
        processesIn(join(first.dataDir, "jobs")).length === 0 ? true : undefined,
      );
    expect(result.status).toBe("lost");
    // The voucher for the note that triggered the kill was signed after the node died: never delivered.
    expect(result.vouchers.map((v) => v.noteSeq)).toEqual([0, 1, 2]);
    const delivered = result.vouchers[1]?.cumulativeAmount ?? -1n;
    expect((await market.channel(result.channelId)).redeemed).toBe(0n);

    const second = await startTestProvider(market, {
      reuse: { key: first.key, dataDir: first.dataDir },
      env,
    });
    cleanups.add(() => second.stop());
    expect(second.info.peerId).toBe(first.info.peerId);

    const redeemed = await waitFor(
      "the restarted node to redeem",
      async () => {
        const events = await market.redeemedEvents({ channelId: result.channelId });
        return events.length > 0 ? events : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    const job = await waitFor("the redemption recorded in the operator API", async () => {
      const j = await getJson<ApiJob>(second.api(`/v1/jobs/${result.jobId}`));
      return j.vouchers.at(-1)?.redeemTx != null ? j : undefined;
    });
    expect(job.status).toBe("failed");
    expect(job.reason).toBe("the provider stopped during the job");
    // The node's newest voucher is the last one delivered, and exactly that was redeemed on-chain.
    const newest = job.vouchers.at(-1);
    expect(newest?.noteSeq).toBe(1);
    expect(BigInt(newest?.cumulativeAmount ?? -1n)).toBe(delivered);
    expect(redeemed).toHaveLength(1);
    expect(redeemed[0]?.cumulativeAmount).toBe(delivered);
    expect(newest?.redeemTx).toBe(redeemed[0]?.tx);
    const channel = await market.channel(result.channelId);
    expect(channel.redeemed).toBe(delivered);
    const paid = redeemed[0]?.paid ?? 0n;
    expect(paid).toBeGreaterThan(0n);
    const afterFirstRedeem = await market.tokenBalance(first.address);
    expect(afterFirstRedeem).toBe(providerBefore + paid);

    // Redeeming again pays nothing: writes need the admin token, and with it nothing is pending.
    const unauthorized = await fetch(second.api("/v1/redeem"), { method: "POST" });
    expect(unauthorized.status).toBe(401);
    const again = await fetch(second.api("/v1/redeem"), {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ result: null });
    expect(await market.redeemedEvents({ channelId: result.channelId })).toHaveLength(1);
    expect((await market.channel(result.channelId)).redeemed).toBe(delivered);
    expect(await market.tokenBalance(first.address)).toBe(afterFirstRedeem);
  });
});
