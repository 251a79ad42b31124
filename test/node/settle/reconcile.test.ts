import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createPublicClient, type Hex, http, parseUnits } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChainClients, type WalletChainClients } from "../../../marketplace/chain/clients.ts";
import { type GridspotContracts, getGridspotContracts } from "../../../marketplace/chain/contracts.ts";
import { deployGridspot } from "../../../marketplace/chain/deploy.ts";
import type { Deployment } from "../../../marketplace/chain/deployment.ts";
import { writeDeployment } from "../../../marketplace/chain/deployments.ts";
import { compactVoucherSignature, signVoucher } from "../../../marketplace/chain/voucher.ts";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import { toJsonValue } from "../../../marketplace/messages/json.ts";
import type { Store } from "../../../marketplace/store/openStore.ts";
import { buildApp } from "../../../node/api/buildApp.ts";
import { reconcile } from "../../../node/settle/reconcile.ts";
import type { ChannelReconciliation, ReconcileReport } from "../../../node/settle/reconcileTypes.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { insertNote } from "../../../node/store/receiptRecords.ts";
import { type LocalChain, startLocalChain } from "../../../scripts/lib/localChain.ts";
import { agreement as baseAgreement, GRID, PEER_A } from "../../marketplace/messages/fixtures.ts";
import { plantJob } from "./plantJob.ts";

const root = join(import.meta.dirname, "..", "..", "..");
const grid = (amount: string) => parseUnits(amount, 18);

let chain: LocalChain;
let payerClients: WalletChainClients;
let providerClients: WalletChainClients;
let deployment: Deployment;
let asPayer: GridspotContracts<WalletChainClients>;
let asProvider: GridspotContracts<WalletChainClients>;
let dir: string;
let store: Store;
let report: ReconcileReport;
const channels: Record<string, bigint> = {};
const expected: Record<string, bigint> = {};

async function wait(hash: Promise<Hex>) {
  const receipt = await payerClients.publicClient.waitForTransactionReceipt({ hash: await hash });
  expect(receipt.status).toBe("success");
}

async function openChannel(): Promise<bigint> {
  const expiry = (await payerClients.publicClient.getBlock()).timestamp + 86_400n;
  await wait(
    asPayer.computeEscrow.write.openChannel([
      providerClients.walletClient.account.address,
      grid("10"),
      expiry,
    ]),
  );
  return asPayer.computeEscrow.read.lastChannelId();
}

/** The provider redeems a voucher the payer signed for `amount` on the channel. */
async function redeem(channelId: bigint, amount: bigint): Promise<void> {
  const signature = await signVoucher(payerClients.walletClient, {
    chainId: deployment.chainId,
    escrow: deployment.contracts.computeEscrow,
    voucher: { channelId, cumulativeAmount: amount },
  });
  const { r, vs } = compactVoucherSignature(signature);
  await wait(asProvider.computeEscrow.write.redeem([channelId, amount, r, vs]));
}

const channel = (name: string): ChannelReconciliation => {
  const found = report.channels.find((c) => c.channelId === channels[name]);
  if (found === undefined) throw new Error(`no channel ${name} in the report`);
  return found;
};

beforeAll(async () => {
  chain = await startLocalChain({ accounts: 2 });
  const [payerKey, providerKey] = chain.privateKeys as [Hex, Hex];
  payerClients = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: payerKey });
  providerClients = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: providerKey });
  deployment = await deployGridspot(payerClients);
  asPayer = getGridspotContracts(payerClients, deployment);
  asProvider = getGridspotContracts(providerClients, deployment);
  await wait(asPayer.computeToken.write.approve([deployment.contracts.computeEscrow, grid("100")]));
  await wait(asPayer.computeEscrow.write.deposit([grid("100")]));

  dir = mkdtempSync(join(tmpdir(), "gridspot-reconcile-"));
  store = openProviderStore(join(dir, "provider.db"));
  const provider = privateKeyToAccount(providerKey);
  const payer = privateKeyToAccount(payerKey);
  const agreementFor = (jobId: string): Agreement => ({
    ...baseAgreement,
    jobId,
    submitter: payer.address,
    provider: provider.address,
    escrow: deployment.contracts.computeEscrow,
    granularity: "s",
  });
  const plant = async (
    name: string,
    jobId: string,
    options: Partial<Parameters<typeof plantJob>[1]> = {},
    base = 0n,
  ) => {
    channels[name] ??= await openChannel();
    return plantJob(store, {
      jobId,
      channelId: channels[name] ?? 0n,
      channelBase: base,
      agreement: agreementFor(jobId),
      intervals: [
        { usage: { gpu_ms: 1_800_000n, cpu_core_ms: 3_600_000n, mem_mib_ms: 1_024n * 3_600_000n } },
        { usage: { gpu_ms: 1_800_000n, cpu_core_ms: 1_000n, egress_bytes: 5_000n } },
      ],
      chainId: deployment.chainId,
      escrow: deployment.contracts.computeEscrow,
      provider,
      payer,
      peerId: PEER_A,
      ...options,
    });
  };
  const last = (planted: Awaited<ReturnType<typeof plant>>) => planted.notes.at(-1)?.channelCumulative ?? 0n;

  // ok: two jobs one after the other on one channel, billed, signed and redeemed.
  const first = await plant("ok", "job-ok-0001");
  const second = await plant("ok", "job-ok-0002", {}, last(first));
  await redeem(channels.ok ?? 0n, last(second));

  // unbilled-usage: 30 more GPU-minutes measured after the last note, never billed.
  const leaky = await plant("unbilled", "job-leak-001", { unbilledTail: { gpu_ms: 1_800_000n } });
  await redeem(channels.unbilled ?? 0n, last(leaky));
  expected.unbilled = (1_800_000n * 2n * GRID) / 3_600_000n; // 2 GRID per GPU-hour

  // unsigned-note: the payer never signed the last note; the one before it is redeemed.
  const unsigned = await plant("unsigned", "job-unsig-01", {
    intervals: [{ usage: { gpu_ms: 3_600_000n } }, { usage: { gpu_ms: 3_600_000n }, voucher: false }],
  });
  await redeem(channels.unsigned ?? 0n, unsigned.notes[0]?.channelCumulative ?? 0n);
  expected.unsigned =
    (unsigned.notes[1]?.channelCumulative ?? 0n) - (unsigned.notes[0]?.channelCumulative ?? 0n);

  // unredeemed-voucher: signed, never redeemed.
  const waiting = await plant("unredeemed", "job-unred-01");
  expected.unredeemed = last(waiting);

  // over-redemption: the chain paid a voucher above anything this node holds.
  const over = await plant("over", "job-over-001");
  expected.over = grid("0.5");
  await redeem(channels.over ?? 0n, last(over) + expected.over);

  // note-above-ledger: a note that bills more than the ledger's usage rates to.
  const inflated = await plant("inflated", "job-infl-001", {
    intervals: [{ usage: { gpu_ms: 3_600_000n } }],
  });
  const note = inflated.notes[0];
  if (note === undefined) throw new Error("no note planted");
  insertNote(
    store,
    {
      jobId: "job-infl-001",
      seq: 1,
      envelope: "{}",
      jobAmount: note.jobAmount + grid("1"),
      channelCumulative: note.channelCumulative + grid("1"),
      eventsHash: note.eventsHash,
      createdAt: 2,
    },
    [],
  );
  await redeem(channels.inflated ?? 0n, note.channelCumulative);

  // running: the newest interval is not billed or signed yet, which is no difference.
  channels.running = await openChannel();
  await plantJob(store, {
    jobId: "job-run-0001",
    channelId: channels.running,
    channelBase: 0n,
    agreement: agreementFor("job-run-0001"),
    intervals: [{ usage: { gpu_ms: 60_000n } }, { usage: { gpu_ms: 60_000n }, voucher: false }],
    unbilledTail: { gpu_ms: 60_000n },
    running: true,
    chainId: deployment.chainId,
    escrow: deployment.contracts.computeEscrow,
    provider,
    payer,
    peerId: PEER_A,
  });

  report = await reconcile(store, {
    publicClient: providerClients.publicClient,
    escrow: deployment.contracts.computeEscrow,
  });
}, 120_000);

afterAll(async () => {
  store?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  await chain?.stop();
});

describe("reconcile", () => {
  it("finds a channel whose ledger, notes, vouchers and chain agree ok", () => {
    const ok = channel("ok");
    expect(ok.status).toBe("ok");
    expect(ok.differences).toEqual([]);
    expect(ok.jobs.map((j) => j.jobId)).toEqual(["job-ok-0001", "job-ok-0002"]);
    for (const job of ok.jobs) {
      expect(job.ratesSource).toBe("agreement");
      expect(job.ledgerAmount).toBe(job.noteAmount);
      expect(job.unbilledEvents).toBe(0);
    }
    expect(ok.voucherCumulative).toBe(ok.noteCumulative);
    expect(ok.redeemedOnChain).toBe(ok.voucherCumulative);
    expect(ok.chain.status).toBe("open");
  });

  it("reports usage measured but never billed as unbilled-usage (revenue leakage)", () => {
    const c = channel("unbilled");
    expect(c.differences).toEqual([
      {
        kind: "unbilled-usage",
        amount: expected.unbilled,
        jobId: "job-leak-001",
        detail: expect.stringContaining("(1 event(s) not billed)"),
      },
    ]);
  });

  it("reports a note the payer never signed as unsigned-note", () => {
    const c = channel("unsigned");
    expect(c.differences.map((d) => [d.kind, d.amount])).toEqual([["unsigned-note", expected.unsigned]]);
    expect(c.redeemedOnChain).toBe(c.voucherCumulative);
  });

  it("reports a voucher above what the escrow paid as unredeemed-voucher", () => {
    const c = channel("unredeemed");
    expect(c.differences).toEqual([
      {
        kind: "unredeemed-voucher",
        amount: expected.unredeemed,
        jobId: null,
        detail: expect.stringContaining("still redeemable"),
      },
    ]);
    expect(c.redeemedOnChain).toBe(0n);
  });

  it("reports the escrow paying more than any voucher held as over-redemption", () => {
    expect(channel("over").differences.map((d) => [d.kind, d.amount])).toEqual([
      ["over-redemption", expected.over],
    ]);
  });

  it("reports a note that bills more than the ledger supports as note-above-ledger", () => {
    const c = channel("inflated");
    // The inflated note was never signed either.
    expect(c.differences.map((d) => [d.kind, d.amount])).toEqual([
      ["note-above-ledger", grid("1")],
      ["unsigned-note", grid("1")],
    ]);
  });

  it("does not count a running job's newest interval as a difference", () => {
    const c = channel("running");
    expect(c.running).toBe(true);
    expect(c.differences).toEqual([]);
    expect(c.jobs[0]?.unbilledEvents).toBe(1);
  });

  it("sums each kind over the channels", () => {
    expect(report.ok).toBe(false);
    expect(report.summary["unbilled-usage"]).toEqual({ channels: 1, amount: expected.unbilled });
    expect(report.summary["unsigned-note"]).toEqual({
      channels: 2,
      amount: (expected.unsigned ?? 0n) + grid("1"),
    });
    expect(report.summary["unredeemed-voucher"]).toEqual({ channels: 1, amount: expected.unredeemed });
    expect(report.summary["over-redemption"]).toEqual({ channels: 1, amount: expected.over });
    expect(report.channels.map((c) => c.channelId)).toEqual(
      Object.values(channels).sort((a, b) => (a < b ? -1 : 1)),
    );
  });

  it("serves the same report at GET /v1/reconcile, and 503 without a chain", async () => {
    const chainView = {
      publicClient: providerClients.publicClient,
      escrow: deployment.contracts.computeEscrow,
    };
    const app = buildApp({
      store,
      adminToken: undefined,
      status: () => ({}),
      redeem: async () => null,
      reconcile: () => reconcile(store, chainView, { now: report.checkedAt }),
    });
    const response = await app.inject({ method: "GET", url: "/v1/reconcile" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(toJsonValue(report));
    await app.close();
    const offline = buildApp({ store, adminToken: undefined, status: () => ({}), redeem: async () => null });
    expect((await offline.inject({ method: "GET", url: "/v1/reconcile" })).statusCode).toBe(503);
    // A chain that does not answer: 503, and the RPC error stays in the log.
    const deadChain = createPublicClient({ transport: http("http://127.0.0.1:9", { retryCount: 0 }) });
    const broken = buildApp({
      store,
      adminToken: undefined,
      status: () => ({}),
      redeem: async () => null,
      reconcile: () => reconcile(store, { ...chainView, publicClient: deadChain }),
    });
    const failed = await broken.inject({ method: "GET", url: "/v1/reconcile" });
    expect(failed.statusCode).toBe(503);
    expect(failed.json()).toEqual({
      error: "chain-unavailable",
      message: "cannot read the channels on-chain now",
    });
    await broken.close();
    await offline.close();
  });

  it("prints it from `gridspot provider reconcile`, exiting 1 on differences with --check", async () => {
    const deployments = join(dir, "deployments");
    await writeDeployment(deployments, deployment);
    const run = (args: string[]) =>
      promisify(execFile)(
        process.execPath,
        [join(root, "bin", "gridspot.ts"), "provider", "reconcile", ...args],
        {
          cwd: root,
          env: { ...process.env, GRIDSPOT_LOG: "silent" },
        },
      ).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({
          code: e.code,
          stdout: e.stdout,
          stderr: e.stderr,
        }),
      );
    const common = ["--data-dir", dir, "--rpc-url", chain.rpcUrl, "--deployments", deployments];
    const json = await run([...common, "--json"]);
    expect(json.code).toBe(0);
    const printed = JSON.parse(json.stdout) as {
      ok: boolean;
      channels: { channelId: string; status: string }[];
    };
    expect(printed.ok).toBe(false);
    expect(printed.channels.find((c) => c.channelId === String(channels.ok))?.status).toBe("ok");
    const text = await run([...common, "--check"]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`channel ${channels.unbilled}  DIFFERENCES`);
    expect(text.stdout).toMatch(/unbilled-usage\s+1 GRID {2}job job-leak-001/);
    expect(text.stdout).toContain("over-redemption");
    const missing = await run(["--data-dir", join(dir, "nowhere"), "--rpc-url", chain.rpcUrl]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`No provider ledger at ${join(dir, "nowhere", "provider.db")}`);
  });
});
