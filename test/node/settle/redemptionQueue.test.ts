// The provider's redemption queue against a real anvil: N confirmations before a redemption counts,
// the RPC down and back, a rollback made by reloading anvil's saved state, and a batch that holds a
// voucher redeemed first. Each test ends on the chain's own figures: who got what, nothing paid twice.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Hex, parseUnits } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readChannel } from "../../../marketplace/chain/actions/readChannel.ts";
import { redeemVouchers } from "../../../marketplace/chain/actions/redeemVouchers.ts";
import {
  TransactionRevertedError,
  waitForSuccess,
} from "../../../marketplace/chain/actions/waitForSuccess.ts";
import { createChainClients, type WalletChainClients } from "../../../marketplace/chain/clients.ts";
import { type GridspotContracts, getGridspotContracts } from "../../../marketplace/chain/contracts.ts";
import { deployGridspot } from "../../../marketplace/chain/deploy.ts";
import type { Deployment } from "../../../marketplace/chain/deployment.ts";
import { createLogger } from "../../../marketplace/log/createLogger.ts";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import type { Store } from "../../../marketplace/store/openStore.ts";
import { buildApp } from "../../../node/api/buildApp.ts";
import {
  createRedemptionQueue,
  type RedemptionQueueInit,
} from "../../../node/settle/createRedemptionQueue.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { getQueueEntry } from "../../../node/store/redemptionQueue.ts";
import { type LocalChain, startLocalChain } from "../../../scripts/lib/localChain.ts";
import { agreement as baseAgreement, PEER_A } from "../../marketplace/messages/fixtures.ts";
import { plantJob } from "./plantJob.ts";

const grid = (amount: string) => parseUnits(amount, 18);
/** The escrow's fee, read in beforeAll: the provider gets each amount less it. */
let feeBps = 0n;
const net = (x: bigint) => x - (x * feeBps) / 10_000n;

let chain: LocalChain;
let port: number;
let keys: Hex[];
let payer: WalletChainClients;
let payer2: WalletChainClients;
let provider: WalletChainClients;
let deployment: Deployment;
let asProvider: GridspotContracts<WalletChainClients>;
let dir: string;
let store: Store;
const warnings: string[] = [];
// The warnings are asserted on: log them whatever the environment's level.
process.env.GRIDSPOT_LOG = "warn";
const logger = createLogger("test:settle", (line) => {
  if (/^\S+ warn /.test(line)) warnings.push(line);
});

async function rpc(method: string, params: unknown[] = []): Promise<unknown> {
  const response = await fetch(chain.rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: unknown; error?: { message: string } };
  if (body.error !== undefined) throw new Error(body.error.message);
  return body.result;
}
const mine = () => rpc("anvil_mine", ["0x1"]);
const dumpState = async () => (await rpc("anvil_dumpState")) as Hex;
/** Stops anvil (the RPC is down) and starts it again on the same port with `state` loaded. */
async function restartWith(state: Hex, whileDown?: () => Promise<void>): Promise<void> {
  await chain.stop();
  try {
    await whileDown?.();
  } finally {
    chain = await startLocalChain({ accounts: 3, port });
    await rpc("anvil_loadState", [state]);
  }
}

async function openChannel(from: WalletChainClients): Promise<bigint> {
  const c = getGridspotContracts(from, deployment);
  const expiry = (await from.publicClient.getBlock()).timestamp + 86_400n;
  const hash = await c.computeEscrow.write.openChannel([
    provider.walletClient.account.address,
    grid("10"),
    expiry,
  ]);
  await waitForSuccess(from.publicClient, { hash, what: "openChannel" });
  return c.computeEscrow.read.lastChannelId();
}

let jobs = 0;
/** A finished job on a fresh channel from `from`, billed and signed: its last voucher. */
async function billedChannel(from: WalletChainClients, key: Hex, running = false) {
  const channelId = await openChannel(from);
  const jobId = `job-queue-${String(++jobs).padStart(3, "0")}`;
  const agreement: Agreement = {
    ...baseAgreement,
    jobId,
    submitter: from.walletClient.account.address,
    provider: provider.walletClient.account.address,
    escrow: deployment.contracts.computeEscrow,
  };
  const planted = await plantJob(store, {
    jobId,
    channelId,
    channelBase: 0n,
    agreement,
    intervals: [{ usage: { gpu_ms: 1_800_000n } }, { usage: { gpu_ms: 900_000n } }],
    chainId: deployment.chainId,
    escrow: deployment.contracts.computeEscrow,
    provider: privateKeyToAccount(keys[1] as Hex),
    payer: privateKeyToAccount(key),
    peerId: PEER_A,
    running,
  });
  const last = planted.vouchers.at(-1);
  if (last === undefined) throw new Error("no voucher planted");
  return { channelId, ...last };
}

const queueOf = (init: RedemptionQueueInit = {}) =>
  createRedemptionQueue(
    {
      store,
      publicClient: provider.publicClient,
      walletClient: provider.walletClient,
      escrow: deployment.contracts.computeEscrow,
      fromBlock: deployment.deployBlock,
      logger,
    },
    { confirmations: 2, backoffBaseMs: 50, backoffMaxMs: 200, sentLostAfterMs: 0, ...init },
  );
const redeemedOnChain = async (channelId: bigint) =>
  (await readChannel(provider.publicClient, { escrow: deployment.contracts.computeEscrow, channelId }))
    .redeemed;
const providerBalance = () => asProvider.computeToken.read.balanceOf([provider.walletClient.account.address]);

beforeAll(async () => {
  chain = await startLocalChain({ accounts: 3 });
  port = Number(new URL(chain.rpcUrl).port);
  keys = chain.privateKeys;
  const [payerKey, providerKey, payer2Key] = keys as [Hex, Hex, Hex];
  payer = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: payerKey });
  provider = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: providerKey });
  payer2 = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: payer2Key });
  deployment = await deployGridspot(payer);
  asProvider = getGridspotContracts(provider, deployment);
  const asPayer = getGridspotContracts(payer, deployment);
  const escrow = deployment.contracts.computeEscrow;
  for (const [who, c] of [
    [payer, asPayer],
    [payer2, getGridspotContracts(payer2, deployment)],
  ] as const) {
    if (who !== payer) {
      const hash = await asPayer.computeToken.write.transfer([who.walletClient.account.address, grid("100")]);
      await waitForSuccess(payer.publicClient, { hash, what: "transfer" });
    }
    await waitForSuccess(who.publicClient, {
      hash: await c.computeToken.write.approve([escrow, grid("100")]),
      what: "approve",
    });
    await waitForSuccess(who.publicClient, {
      hash: await c.computeEscrow.write.deposit([grid("100")]),
      what: "deposit",
    });
  }
  feeBps = BigInt(await asProvider.computeEscrow.read.feeBps());
  dir = mkdtempSync(join(tmpdir(), "gridspot-queue-"));
  store = openProviderStore(join(dir, "provider.db"));
});

afterAll(async () => {
  store?.close();
  await chain?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("redemption queue", () => {
  it("counts a redemption as paid only after the configured confirmations", async () => {
    const a = await billedChannel(payer, keys[0] as Hex);
    const b = await billedChannel(payer2, keys[2] as Hex);
    const before = await providerBalance();
    // Every deadline counts as near here: each pending voucher is warned about once.
    const queue = queueOf({ deadlineWarningS: 10 ** 9 });
    const sent = await queue.tick();
    expect(sent?.vouchers.map((v) => v.channelId)).toEqual([a.channelId, b.channelId]);
    expect(warnings.filter((w) => w.includes("nears its channel's redeem deadline unredeemed"))).toHaveLength(
      2,
    );
    expect(queue.stats().nearestDeadline).toBeGreaterThan(Math.floor(Date.now() / 1000));
    await waitForSuccess(provider.publicClient, { hash: sent?.txHash as Hex, what: "redeemBatch" });
    await queue.tick(); // mined: one confirmation of two
    expect(queue.stats()).toMatchObject({ vouchersPending: 2, redemptionsUnconfirmed: 2 });
    await mine();
    await queue.tick();
    expect(queue.stats()).toMatchObject({ vouchersPending: 0, pendingValue: 0n, redemptionsUnconfirmed: 0 });
    expect(await redeemedOnChain(a.channelId)).toBe(a.cumulativeAmount);
    expect(await redeemedOnChain(b.channelId)).toBe(b.cumulativeAmount);
    expect((await providerBalance()) - before).toBe(net(a.cumulativeAmount) + net(b.cumulativeAmount));
  });

  it("keeps a voucher while the RPC is down and redeems it once the chain is back", async () => {
    const c = await billedChannel(payer, keys[0] as Hex);
    const before = await providerBalance();
    const queue = queueOf();
    const state = await dumpState();
    await restartWith(state, async () => {
      expect(await queue.tick()).toBeUndefined();
      const entry = getQueueEntry(store, c.channelId);
      expect(entry.attempts).toBe(1);
      expect(entry.lastError).not.toBeNull();
      expect(queue.stats()).toMatchObject({ vouchersPending: 1, pendingValue: c.cumulativeAmount });
      // The operator sees it: /metrics and /v1/status show what waits and its value.
      const app = buildApp({ store, adminToken: undefined, status: () => ({}), redeem: async () => null });
      const metrics = (await app.inject({ method: "GET", url: "/metrics" })).body;
      expect(metrics).toContain("gridspot_redemption_channels_pending 1\n");
      expect(metrics).toContain(`gridspot_redemption_pending_value ${c.cumulativeAmount}\n`);
      const status = (await app.inject({ method: "GET", url: "/v1/status" })).json();
      expect(status.settlement).toMatchObject({
        vouchersPending: 1,
        pendingValue: String(c.cumulativeAmount),
      });
      await app.close();
    });
    await new Promise((r) => setTimeout(r, 120));
    const sent = await queue.tick();
    expect(sent?.vouchers.map((v) => v.channelId)).toEqual([c.channelId]);
    await waitForSuccess(provider.publicClient, { hash: sent?.txHash as Hex, what: "redeem" });
    await mine();
    await queue.tick();
    expect(queue.stats().vouchersPending).toBe(0);
    expect(getQueueEntry(store, c.channelId).attempts).toBe(0);
    expect(await redeemedOnChain(c.channelId)).toBe(c.cumulativeAmount);
    expect((await providerBalance()) - before).toBe(net(c.cumulativeAmount));
  });

  it("re-sends a confirmed redemption the chain lost when anvil's saved state is reloaded", async () => {
    const d = await billedChannel(payer, keys[0] as Hex);
    const saved = await dumpState(); // before the redemption
    const before = await providerBalance();
    const queue = queueOf();
    const sent = await queue.tick();
    await waitForSuccess(provider.publicClient, { hash: sent?.txHash as Hex, what: "redeem" });
    await mine();
    await queue.tick();
    expect(queue.stats().vouchersPending).toBe(0);
    expect(await redeemedOnChain(d.channelId)).toBe(d.cumulativeAmount);

    // The rollback: the chain goes back to the state saved before the redemption; the node restarts.
    await restartWith(saved);
    expect(await redeemedOnChain(d.channelId)).toBe(0n);
    expect(await providerBalance()).toBe(before);
    const restarted = queueOf();
    const again = await restarted.tick();
    expect(again?.vouchers.map((v) => v.channelId)).toEqual([d.channelId]);
    expect(warnings.some((w) => w.includes("the chain no longer has a confirmed redemption"))).toBe(true);
    await waitForSuccess(provider.publicClient, { hash: again?.txHash as Hex, what: "redeem" });
    await mine();
    await restarted.tick();
    expect(restarted.stats().vouchersPending).toBe(0);
    expect(await redeemedOnChain(d.channelId)).toBe(d.cumulativeAmount);
    // Paid exactly once.
    expect((await providerBalance()) - before).toBe(net(d.cumulativeAmount));
  });

  it("does not revert a batch when one payer's voucher was redeemed first", async () => {
    const e = await billedChannel(payer, keys[0] as Hex);
    const f = await billedChannel(payer2, keys[2] as Hex);
    const before = await providerBalance();
    const escrow = deployment.contracts.computeEscrow;
    // e is redeemed on its own first (by a restarted node, by anyone: the money goes to the provider).
    await waitForSuccess(provider.publicClient, {
      hash: await redeemVouchers(provider.walletClient, { escrow, vouchers: [e] }),
      what: "redeem",
    });
    const receipt = await waitForSuccess(provider.publicClient, {
      hash: await redeemVouchers(provider.walletClient, { escrow, vouchers: [e, f] }),
      what: "redeemBatch",
    });
    expect(receipt.status).toBe("success");
    expect(await redeemedOnChain(e.channelId)).toBe(e.cumulativeAmount);
    expect(await redeemedOnChain(f.channelId)).toBe(f.cumulativeAmount);
    expect((await providerBalance()) - before).toBe(net(e.cumulativeAmount) + net(f.cumulativeAmount));
    // The queue finds both paid and records the transactions from the chain's events.
    const queue = queueOf();
    expect(await queue.tick()).toBeUndefined();
    expect(queue.stats().vouchersPending).toBe(0);
  });

  it("waitForSuccess names a mined revert with TransactionRevertedError", async () => {
    const escrow = deployment.contracts.computeEscrow;
    // Sent with its own gas, so it is mined (and reverts: the escrow takes no plain transfer).
    const hash = await provider.walletClient.sendTransaction({
      to: escrow,
      value: 0n,
      data: "0x12345678",
      gas: 100_000n,
    });
    const error = await waitForSuccess(provider.publicClient, { hash, what: "a bad call" }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransactionRevertedError);
    expect((error as TransactionRevertedError).shortMessage).toMatch(
      /^a bad call: transaction 0x[0-9a-f]{64} reverted in block \d+\.$/,
    );
  });

  it("leaves a running job's channel to the job's end unless its deadline nears", async () => {
    const g = await billedChannel(payer, keys[0] as Hex, true);
    const queue = queueOf();
    expect(await queue.tick()).toBeUndefined(); // the job runs: its voucher will still grow
    expect(queue.stats().vouchersPending).toBe(1);
    const near = queueOf({ deadlineWarningS: 10 ** 9 });
    const sent = await near.tick(); // every deadline is near here: redeem now
    expect(sent?.vouchers.map((v) => v.channelId)).toEqual([g.channelId]);
    await waitForSuccess(provider.publicClient, { hash: sent?.txHash as Hex, what: "redeem" });
    await mine();
    await near.tick();
    expect(await redeemedOnChain(g.channelId)).toBe(g.cumulativeAmount);
    expect(near.stats().vouchersPending).toBe(0);
  });
});
