import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSubmitter, type Submitter } from "../../marketplace/client/createSubmitter.ts";
import { storedAgreement } from "../../marketplace/client/storedAgreement.ts";
import {
  listJobVouchers,
  listNoteRecords,
  openSubmitterStore,
} from "../../marketplace/client/submitterStore.ts";
import { verifyJob } from "../../marketplace/client/verifyJob.ts";
import { buildInvoice } from "../../marketplace/invoice/buildInvoice.ts";
import { invoiceToCsv } from "../../marketplace/invoice/invoiceToCsv.ts";
import type { Invoice } from "../../marketplace/invoice/types.ts";
import type { Rate } from "../../marketplace/messages/primitives.ts";
import { debitNote } from "../../marketplace/messages/receipt.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { buildApp } from "../../node/api/buildApp.ts";
import { reconcile } from "../../node/settle/reconcile.ts";
import { openProviderStore } from "../../node/store/openProviderStore.ts";
import { type ChainChannel, chainChannel } from "../marketplace/client/chainChannel.ts";
import { GRID, HOUR_MS, PEER_A } from "../marketplace/messages/fixtures.ts";
import { type BilledJob, billedJob, storeBilledJob } from "../marketplace/receipt/billedJob.ts";
import { plantJob } from "../node/settle/plantJob.ts";

// The case: a spot GPU-hour that moved from 2.0 to 3.15 GRID over six notes.
const gpuAt = (price: bigint): Rate => ({ meter: "gpu_ms", price, per: HOUR_MS });
const CPU: Rate = { meter: "cpu_core_ms", price: GRID / 50n, per: HOUR_MS };
const LOW = [gpuAt(2n * GRID), CPU];
const HIGH = [gpuAt((315n * GRID) / 100n), CPU];
const NOTE_RATES = [LOW, LOW, LOW, HIGH, HIGH, HIGH];
// Odd quantities, so every stretch rounds.
const USAGES = [1, 2, 3, 4, 5, 6].map((i) => ({
  gpu_ms: 1_234_567n * BigInt(i),
  cpu_core_ms: 777_777n * BigInt(i),
}));

let net: ChainChannel;
let home: string;
let job: BilledJob;
let providerStore: Store;
let redeemTx: string;
let submitter: Submitter;

/**
 * What `gridspot job invoice` builds (marketplace/cli/commands/job.ts): the accepted notes and the
 * signed vouchers from the submitter's store, through `buildInvoice`.
 */
function submitterInvoice(): Invoice {
  const { agreement } = storedAgreement(job.agreement.jobId, JSON.stringify(job.signatures));
  const notes = listNoteRecords(submitter.store, job.agreement.jobId)
    .filter((n) => n.verdict === "accepted")
    .map((n) => debitNote.parse(JSON.parse((JSON.parse(n.envelope) as { payload: string }).payload)));
  const vouchers = listJobVouchers(submitter.store, job.agreement.jobId);
  return buildInvoice({
    agreement,
    notes,
    vouchers: vouchers.map((v) => ({
      cumulativeAmount: v.cumulativeAmount,
      noteSeq: v.noteSeq,
      redeemTx: v.noteSeq === vouchers.at(-1)?.noteSeq ? (redeemTx as `0x${string}`) : null,
    })),
  });
}

beforeAll(async () => {
  net = await chainChannel(100n * GRID);
  home = await mkdtemp(join(tmpdir(), "gridspot-spot-"));
  job = await billedJob({
    chainId: net.chain.chainId,
    escrow: net.deployment.contracts.computeEscrow,
    providerKey: net.providerKey,
    submitterKey: net.payerKey,
    channelId: net.channelId,
    jobId: "job-spot-000001",
    rates: LOW,
    granularity: "s",
    minimumCharge: GRID / 1000n,
    usages: USAGES,
    spot: { maxRates: [gpuAt(4n * GRID), { ...CPU, price: GRID / 25n }], noteRates: NOTE_RATES },
  });
  await mkdir(join(home, "submitter"), { recursive: true });
  const submitterStore = openSubmitterStore(join(home, "submitter", "submitter.db"));
  storeBilledJob(submitterStore, job, {
    channelAmount: 100n * GRID,
    budget: 10n * GRID,
    status: "completed",
  });
  submitterStore.close();
  // The provider's ledger of the same job: the same usage, noted at the same moving price.
  providerStore = openProviderStore(join(home, "provider.db"));
  let before: Record<string, bigint> = {};
  await plantJob(providerStore, {
    jobId: job.agreement.jobId,
    channelId: net.channelId,
    channelBase: 0n,
    agreement: job.agreement,
    intervals: USAGES.map((usage, i) => {
      const delta = Object.fromEntries(Object.entries(usage).map(([m, q]) => [m, q - (before[m] ?? 0n)]));
      before = usage;
      return { usage: delta, rates: NOTE_RATES[i] as Rate[] };
    }),
    chainId: net.chain.chainId,
    escrow: net.deployment.contracts.computeEscrow,
    provider: privateKeyToAccount(net.providerKey),
    payer: privateKeyToAccount(net.payerKey),
    peerId: PEER_A,
  });
  const last = job.vouchers.at(-1);
  if (last === undefined) throw new Error("fixture");
  redeemTx = await net.redeem(last.cumulativeAmount, last.signature);
  submitter = await createSubmitter(
    {
      dataDir: join(home, "submitter"),
      rpcUrl: net.chain.rpcUrl,
      deploymentsDir: net.deploymentsDir,
      bootstrap: [],
    },
    privateKeyToAccount(net.payerKey),
  );
});

afterAll(async () => {
  await submitter?.close();
  providerStore?.close();
  await net?.stop();
  if (home !== undefined) await rm(home, { recursive: true, force: true });
  if (net?.deploymentsDir !== undefined) await rm(net.deploymentsDir, { recursive: true, force: true });
});

describe("a spot job whose price moved 2.0 → 3.15 GRID/h", () => {
  it("passes `job verify`: every note priced at its own rate, the last voucher redeemed", async () => {
    const result = await verifyJob(submitter, job.agreement.jobId);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it("`job invoice` bills a line per meter per price stretch, summing to the last voucher", async () => {
    const invoice = submitterInvoice();
    const lastNote = job.notes.at(-1)?.note;
    expect(invoice.pricing).toBe("spot");
    expect(invoice.total).toBe(lastNote?.jobAmount);
    expect(invoice.lines.map((l) => [l.meter, l.price, l.stretch])).toEqual([
      ["gpu_ms", 2n * GRID, { fromSeq: 0, toSeq: 2 }],
      ["cpu_core_ms", GRID / 50n, { fromSeq: 0, toSeq: 2 }],
      ["gpu_ms", (315n * GRID) / 100n, { fromSeq: 3, toSeq: 5 }],
      ["cpu_core_ms", GRID / 50n, { fromSeq: 3, toSeq: 5 }],
    ]);
    expect(invoice.lines.reduce((sum, l) => sum + l.amount, 0n)).toBe(invoice.total);
    // The CSV names each line's stretch in its last two columns.
    expect(
      invoiceToCsv(invoice)
        .split("\n")
        .slice(1)
        .map((r) => r.split(",").slice(-2).join("-")),
    ).toEqual(["0-2", "0-2", "3-5", "3-5"]);
    // Three GPU stretches' worth of seconds at 2 GRID, three at 3.15 (granularity s, cumulative).
    const s = (ms: bigint) => ((ms + 999n) / 1000n) * 1000n;
    const gpu = (q: bigint, p: bigint) => (s(q) * p) / HOUR_MS;
    expect(invoice.lines[2]?.amount).toBe(
      gpu(USAGES[5]?.gpu_ms ?? 0n, (315n * GRID) / 100n) - gpu(USAGES[2]?.gpu_ms ?? 0n, (315n * GRID) / 100n),
    );
    expect(invoice.trace.vouchers.at(-1)?.redeemTx).toBe(redeemTx);
  });

  it("reconciles on the provider (`/v1/reconcile`) and its invoice equals the submitter's", async () => {
    const publicClient = createPublicClient({ transport: http(net.chain.rpcUrl) });
    const chain = { publicClient, escrow: net.deployment.contracts.computeEscrow };
    const report = await reconcile(providerStore, chain);
    expect(report.channels[0]?.differences).toEqual([]);
    expect(report.ok).toBe(true);
    const app = buildApp({
      store: providerStore,
      adminToken: undefined,
      status: () => ({}),
      redeem: async () => null,
      reconcile: () => reconcile(providerStore, chain),
    });
    const reconciled = await app.inject({ method: "GET", url: "/v1/reconcile" });
    expect(reconciled.statusCode).toBe(200);
    expect(reconciled.json().ok).toBe(true);
    const invoice = await app.inject({ method: "GET", url: `/v1/jobs/${job.agreement.jobId}/invoice` });
    expect(invoice.statusCode).toBe(200);
    const submitterSide = submitterInvoice();
    expect(invoice.json().total).toBe(String(submitterSide.total));
    expect(invoice.json().lines.map((l: { amount: string }) => l.amount)).toEqual(
      submitterSide.lines.map((l) => String(l.amount)),
    );
    await app.close();
  });
});
