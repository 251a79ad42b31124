// A payer who asks to close its channel mid-job, hoping to take the rest back once the challenge
// window passes while the provider keeps working unpaid. On real parts: anvil, a provider process,
// the payer's own wallet. The provider must redeem its newest voucher at once and stop the job.
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { computeEscrowAbi } from "../../marketplace/chain/artifacts.generated.ts";
import { createChainClients } from "../../marketplace/chain/clients.ts";
import { createCleanups } from "./support/cleanups.ts";
import { type Market, startMarket } from "./support/market.ts";
import { createTestSubmitter, startTestProvider, submitBurnJob } from "./support/nodes.ts";
import { waitFor } from "./support/waitFor.ts";

let market: Market;
const cleanups = createCleanups();
beforeAll(async () => {
  market = await startMarket();
});
afterEach(() => cleanups.run());
afterAll(() => market?.stop());

describe("a payer closing its channel mid-job", () => {
  it("gets the job stopped, and the provider redeems its newest voucher within seconds", async () => {
    const provider = await startTestProvider(market);
    cleanups.add(() => provider.stop());
    const payer = await createTestSubmitter(market, [provider]);
    cleanups.add(() => payer.submitter.close());
    const wallet = await createChainClients({ rpcUrl: market.rpcUrl, privateKey: payer.key });
    const escrow = market.deployment.contracts.computeEscrow;
    const providerBefore = await market.tokenBalance(provider.address);

    let requested: { at: number; signed: bigint } | undefined;
    let lastSigned = 0n;
    const result = await submitBurnJob(payer, {
      ms: 30_000,
      outputDir: join(market.work, "out-close"),
      redeemWaitMs: 15_000,
      onNote: (note, verdict) => {
        if (verdict === "accepted") lastSigned = note.channelCumulative;
        if (note.seq !== 2 || verdict !== "accepted" || requested !== undefined) return;
        requested = { at: Date.now(), signed: note.channelCumulative };
        void wallet.walletClient.writeContract({
          address: escrow,
          abi: computeEscrowAbi,
          functionName: "requestClose",
          args: [note.channelId],
        });
      },
    });
    expect(requested).toBeDefined();
    expect(result.status).toBe("failed");
    expect(result.reasonCode).toBe("payer-closed");
    // Stopped long before its 30 s of work.
    expect((result.endedAt ?? 0) - (result.startedAt ?? 0)).toBeLessThan(15_000);

    // Redeemed on-chain within 10 s of the request, at least what was signed when it was made.
    const redeemed = await waitFor(
      "a redemption after the close request",
      async () => {
        const events = await market.redeemedEvents({ channelId: result.channelId });
        const last = events.at(-1);
        return last !== undefined && last.cumulativeAmount >= (requested?.signed ?? 0n) ? last : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    const block = await market.deployer.publicClient.getTransactionReceipt({ hash: redeemed.tx });
    const minedAt = Number(
      (await market.deployer.publicClient.getBlock({ blockNumber: block.blockNumber })).timestamp,
    );
    expect(minedAt * 1000 - (requested?.at ?? 0)).toBeLessThan(10_000);

    // Whatever the payer does next, every voucher it signed gets paid: the channel's redeemed amount
    // reaches the last one, and the provider holds that less the fee.
    await waitFor("the last voucher redeemed", async () =>
      (await market.channel(result.channelId)).redeemed === lastSigned ? true : undefined,
    );
    const paid = (await market.redeemedEvents({ channelId: result.channelId })).reduce(
      (s, e) => s + e.paid,
      0n,
    );
    expect(await market.tokenBalance(provider.address)).toBe(providerBefore + paid);
    expect(paid).toBeGreaterThan(0n);
  });
});
