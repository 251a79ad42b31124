// Provider reputation from a real chain: anvil, the deployed escrow, channels opened, vouchers
// redeemed and closes requested by real transactions.
import type { Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChainClients, type WalletChainClients } from "../../../marketplace/chain/clients.ts";
import { type GridspotContracts, getGridspotContracts } from "../../../marketplace/chain/contracts.ts";
import { deployGridspot } from "../../../marketplace/chain/deploy.ts";
import type { Deployment } from "../../../marketplace/chain/deployment.ts";
import { compactVoucherSignature, signVoucher } from "../../../marketplace/chain/voucher.ts";
import {
  createReputationReader,
  EARLY_CLOSE_WEIGHT,
  REPUTATION_DUST,
  valueWeight,
} from "../../../marketplace/order/reputation.ts";
import { type LocalChain, startLocalChain } from "../../../scripts/lib/localChain.ts";

const GRID = 10n ** 18n;
const NONE = { redeemed: 0, earlyCloses: 0, redeemedValue: 0n, earlyClosedValue: 0n, score: 0 };
let chain: LocalChain;
let deployment: Deployment;
let payer: WalletChainClients;
let providers: WalletChainClients[];
let asPayer: GridspotContracts<WalletChainClients>;

beforeAll(async () => {
  chain = await startLocalChain({ accounts: 4 });
  const [payerKey, ...providerKeys] = chain.privateKeys as Hex[];
  payer = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: payerKey as Hex });
  providers = await Promise.all(
    providerKeys.map((k) => createChainClients({ rpcUrl: chain.rpcUrl, privateKey: k })),
  );
  deployment = await deployGridspot(payer, { escrow: { challengePeriodS: 600, feeBps: 0 } });
  asPayer = getGridspotContracts(payer, deployment);
  await wait(await asPayer.computeToken.write.approve([deployment.contracts.computeEscrow, 100n * GRID]));
  await wait(await asPayer.computeEscrow.write.deposit([100n * GRID]));
});
afterAll(() => chain?.stop());

async function wait(hash: Hex): Promise<void> {
  const receipt = await payer.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
}

const address = (i: number) => (providers[i] as WalletChainClients).walletClient.account.address;

async function openChannel(
  provider: number,
  expiresInS: bigint,
  amount = GRID,
  from: WalletChainClients = payer,
): Promise<bigint> {
  const c = getGridspotContracts(from, deployment);
  const expiry = (await from.publicClient.getBlock()).timestamp + expiresInS;
  await wait(await c.computeEscrow.write.openChannel([address(provider), amount, expiry]));
  return c.computeEscrow.read.lastChannelId();
}

async function redeem(
  provider: number,
  channelId: bigint,
  cumulativeAmount: bigint,
  from: WalletChainClients = payer,
): Promise<void> {
  const signature = await signVoucher(from.walletClient, {
    chainId: chain.chainId,
    escrow: deployment.contracts.computeEscrow,
    voucher: { channelId, cumulativeAmount },
  });
  const { r, vs } = compactVoucherSignature(signature);
  const asProvider = getGridspotContracts(providers[provider] as WalletChainClients, deployment);
  await wait(await asProvider.computeEscrow.write.redeem([channelId, cumulativeAmount, r, vs]));
}

describe("createReputationReader", () => {
  it("counts redemptions and early close requests per provider, from the deployment block on", async () => {
    const reader = createReputationReader({
      publicClient: payer.publicClient,
      escrow: deployment.contracts.computeEscrow,
      fromBlock: deployment.deployBlock,
    });
    expect((await reader.read()).size).toBe(0);
    expect(reader.of(address(0))).toEqual(NONE);

    // Provider 0: two vouchers redeemed on one channel, one on another; then the payer gives up on
    // the second channel long before its expiry.
    const a = await openChannel(0, 86_400n);
    await redeem(0, a, GRID / 10n);
    await redeem(0, a, GRID / 5n);
    const b = await openChannel(0, 86_400n);
    await redeem(0, b, GRID / 10n);
    await wait(await asPayer.computeEscrow.write.requestClose([b]));
    // Provider 1: a channel closed only after it expired — not a complaint.
    const c = await openChannel(1, 60n);
    await payer.publicClient.request({ method: "evm_increaseTime" as never, params: [120] as never });
    await payer.publicClient.request({ method: "evm_mine" as never, params: [] as never });
    await wait(await asPayer.computeEscrow.write.requestClose([c]));
    // Provider 2: a channel extended past the time of the request, then closed early.
    const d = await openChannel(2, 60n);
    const farther = (await payer.publicClient.getBlock()).timestamp + 86_400n;
    await wait(await asPayer.computeEscrow.write.extendChannel([d, farther]));
    await payer.publicClient.request({ method: "evm_increaseTime" as never, params: [120] as never });
    await wait(await asPayer.computeEscrow.write.requestClose([d]));

    const tally = await reader.read();
    // Three redemptions of 0.1 GRID each (the second adds 0.1 to the first), one early close of 1 GRID.
    expect(reader.of(address(0))).toEqual({
      redeemed: 3,
      earlyCloses: 1,
      redeemedValue: (3n * GRID) / 10n,
      earlyClosedValue: GRID,
      score: 3 * valueWeight(GRID / 10n) - EARLY_CLOSE_WEIGHT * valueWeight(GRID),
    });
    expect(reader.of(address(1))).toEqual(NONE);
    expect(reader.of(address(2))).toEqual({
      ...NONE,
      earlyCloses: 1,
      earlyClosedValue: GRID,
      score: -EARLY_CLOSE_WEIGHT * valueWeight(GRID),
    });
    expect(tally.size).toBe(3);

    // A later read adds only what happened since, never counting an event twice.
    await redeem(0, a, GRID / 2n);
    await reader.read();
    expect(reader.of(address(0)).redeemed).toBe(4);
    const [x, y] = await Promise.all([reader.read(), reader.read()]);
    expect(x).toBe(y);
    expect(reader.of(address(0)).redeemed).toBe(4);

    // A fresh reader (a new session) sees the same history from the chain alone.
    const fresh = createReputationReader({
      publicClient: payer.publicClient,
      escrow: deployment.contracts.computeEscrow,
      fromBlock: deployment.deployBlock,
    });
    await fresh.read();
    expect(fresh.of(address(0))).toEqual(reader.of(address(0)));
    expect(fresh.of(address(2))).toEqual(reader.of(address(2)));

    // A stopped reader (its client is closing) scans no further.
    const stopped = createReputationReader({
      publicClient: payer.publicClient,
      escrow: deployment.contracts.computeEscrow,
      fromBlock: deployment.deployBlock,
    });
    stopped.stop();
    expect((await stopped.read()).size).toBe(0);
  });

  it("is neither bought nor sunk with dust", async () => {
    const reader = createReputationReader({
      publicClient: payer.publicClient,
      escrow: deployment.contracts.computeEscrow,
      fromBlock: deployment.deployBlock,
    });
    await reader.read();
    // Copies: the reader keeps its tally current in place.
    const before = [{ ...reader.of(address(1)) }, { ...reader.of(address(2)) }];

    // Sinking: three 1-wei channels to provider 1, each closed early.
    for (let i = 0; i < 3; i++) {
      const dust = await openChannel(1, 86_400n, 1n);
      await wait(await asPayer.computeEscrow.write.requestClose([dust]));
    }
    // Buying: a wallet the provider controls (here provider 1's) pays provider 2 ten 1-wei vouchers.
    // (A channel whose payer is the provider itself the escrow already refuses; the reader ignores one too.)
    const sybil = providers[1] as WalletChainClients;
    const asSybil = getGridspotContracts(sybil, deployment);
    await wait(await asPayer.computeToken.write.transfer([address(1), GRID]));
    await wait(await asSybil.computeToken.write.approve([deployment.contracts.computeEscrow, GRID]));
    await wait(await asSybil.computeEscrow.write.deposit([GRID]));
    const bought = await openChannel(2, 86_400n, 10n, sybil);
    for (let i = 1n; i <= 10n; i++) await redeem(2, bought, i, sybil);
    // And a real payer's redemption of less than the dust threshold.
    const small = await openChannel(2, 86_400n, GRID);
    await redeem(2, small, REPUTATION_DUST - 1n);

    await reader.read();
    expect(reader.of(address(1))).toEqual(before[0]);
    expect(reader.of(address(2))).toEqual(before[1]);
    // Real value still counts: the payer's next voucher on that channel pays 0.25 GRID more.
    await redeem(2, small, REPUTATION_DUST - 1n + GRID / 4n);
    await reader.read();
    expect(reader.of(address(2)).score).toBe((before[1]?.score ?? 0) + valueWeight(GRID / 4n));
  });
});
