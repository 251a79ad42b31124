import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { privateKeyToAccount } from "viem/accounts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildInvoice } from "../../../marketplace/invoice/buildInvoice.ts";
import { toJsonValue } from "../../../marketplace/messages/json.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import type { Store } from "../../../marketplace/store/openStore.ts";
import { buildApp } from "../../../node/api/buildApp.ts";
import { insertJob } from "../../../node/store/jobRecords.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { recordRedemption } from "../../../node/store/receiptRecords.ts";
import {
  agreement,
  ESCROW,
  GRID,
  PEER_A,
  PROVIDER_KEY,
  SUBMITTER_KEY,
} from "../../marketplace/messages/fixtures.ts";
import { plantJob } from "../settle/plantJob.ts";

const provider = privateKeyToAccount(PROVIDER_KEY);
const payer = privateKeyToAccount(SUBMITTER_KEY);
const TX = `0x${"cd".repeat(32)}` as const;

let dir: string;
let store: Store;
let app: FastifyInstance;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-api-invoice-"));
  store = openProviderStore(join(dir, "provider.db"));
  app = buildApp({ store, adminToken: undefined, status: () => ({}), redeem: async () => null });
  await app.ready();
});
afterEach(async () => {
  await app.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const plant = (jobId: string, channelId: bigint, voucherOnLast: boolean, minimumCharge?: bigint) =>
  plantJob(store, {
    jobId,
    channelId,
    channelBase: 5n * GRID,
    agreement: {
      ...agreement,
      jobId,
      granularity: "s",
      ...(minimumCharge === undefined ? {} : { minimumCharge }),
    },
    intervals: [
      { usage: { gpu_ms: 4_000n, cpu_core_ms: 7_001n, mem_mib_ms: 8_192_000n, egress_bytes: 123n } },
      { usage: { gpu_ms: 5_000n, cpu_core_ms: 9_999n, mem_mib_ms: 8_192_000n, tokens: 40n } },
      { usage: { gpu_ms: 5_000n, cpu_core_ms: 1n }, voucher: voucherOnLast },
    ],
    chainId: 31337,
    escrow: ESCROW,
    provider,
    payer,
    peerId: PEER_A,
  });

describe("GET /v1/jobs/:id/invoice", () => {
  it("gives the invoice the submitter builds from the notes it signed, with the redeem transaction", async () => {
    const planted = await plant("job-invoice-1", 11n, true);
    recordRedemption(store, {
      txHash: TX,
      channelId: 11n,
      cumulativeAmount: planted.vouchers.at(-1)?.cumulativeAmount ?? 0n,
      status: "confirmed",
      blockNumber: 9n,
      createdAt: 1,
    });
    const response = await app.inject({ method: "GET", url: "/v1/jobs/job-invoice-1/invoice" });
    expect(response.statusCode).toBe(200);
    // What `gridspot job invoice` computes on the submitter's side from the same signed notes.
    const expected = buildInvoice({
      agreement: { ...agreement, jobId: "job-invoice-1", granularity: "s" },
      notes: planted.notes,
      vouchers: planted.vouchers.map((v) => ({
        cumulativeAmount: v.cumulativeAmount,
        noteSeq: v.noteSeq,
        redeemTx: TX,
      })),
    });
    const { run, ...invoice } = response.json() as { run: Record<string, unknown> };
    expect(invoice).toEqual(toJsonValue(expected));
    // How it ran, from the provider's job record: the running time billed and why it ended.
    expect(run).toEqual({
      runtime: null,
      imageDigest: null,
      startedAt: expect.any(Number),
      endedAt: 1_700_000_100_000,
      reasonCode: "exit",
    });
    const body = response.json() as {
      lines: { meter: string; quantity: string }[];
      unrated: { meter: string }[];
    };
    expect(body.lines.map((l) => [l.meter, l.quantity])).toEqual([
      ["gpu_ms", "14000"],
      ["cpu_core_ms", "17001"],
      ["mem_mib_ms", "16384000"],
    ]);
    expect(body.unrated.map((u) => u.meter)).toEqual(["egress_bytes", "tokens"]);
  });

  it("leaves out a note the payer never signed, as the submitter's invoice does", async () => {
    const planted = await plant("job-invoice-2", 12n, false, GRID / 100n);
    const response = await app.inject({ method: "GET", url: "/v1/jobs/job-invoice-2/invoice" });
    expect(response.statusCode).toBe(200);
    const expected = buildInvoice({
      agreement: { ...agreement, jobId: "job-invoice-2", granularity: "s", minimumCharge: GRID / 100n },
      notes: planted.notes.slice(0, 2),
      // Both notes bill the minimum charge: one voucher signs both, and the submitter lists it once.
      vouchers: planted.vouchers.slice(0, 1).map((v) => ({
        cumulativeAmount: v.cumulativeAmount,
        noteSeq: v.noteSeq,
        redeemTx: null,
      })),
    });
    const { run: _run, ...rest } = response.json() as { run: unknown };
    expect(rest).toEqual(toJsonValue(expected));
    expect(planted.vouchers.map((v) => v.cumulativeAmount)).toEqual([
      GRID / 100n + 5n * GRID,
      GRID / 100n + 5n * GRID,
    ]);
    const trace = (response.json() as { trace: { notes: unknown[]; vouchers: unknown[] } }).trace;
    expect(trace.notes).toHaveLength(2);
    expect(trace.vouchers).toHaveLength(1);
  });

  it("shows a voucher for exactly the payer's budget as a budget_cap line, as the submitter's invoice does", async () => {
    const jobId = "job-invoice-3";
    const agreed = { ...agreement, jobId, granularity: "s" as const };
    const usage = { gpu_ms: 4_000n, cpu_core_ms: 7_001n, mem_mib_ms: 8_192_000n };
    // The same job without a budget, on another channel: what each of its notes asks for.
    const asked = await plantJob(store, {
      jobId: "job-invoice-4",
      channelId: 15n,
      channelBase: 0n,
      agreement: { ...agreed, jobId: "job-invoice-4" },
      intervals: [{ usage }, { usage }, { usage }],
      chainId: 31337,
      escrow: ESCROW,
      provider,
      payer,
      peerId: PEER_A,
    });
    const second = asked.notes[1] as DebitNote;
    // The budget is reached in note 1: the payer pays exactly it, and the job stops; note 2 (the
    // final note, cut after the stop) is never signed.
    const budget = (second.jobAmount * 2n) / 3n;
    const planted = await plantJob(store, {
      jobId,
      channelId: 14n,
      channelBase: 5n * GRID,
      agreement: agreed,
      intervals: [{ usage }, { usage, budget }, { usage, voucher: false }],
      chainId: 31337,
      escrow: ESCROW,
      provider,
      payer,
      peerId: PEER_A,
    });
    recordRedemption(store, {
      txHash: TX,
      channelId: 14n,
      cumulativeAmount: 5n * GRID + budget,
      status: "confirmed",
      blockNumber: 9n,
      createdAt: 1,
    });
    const response = await app.inject({ method: "GET", url: `/v1/jobs/${jobId}/invoice` });
    expect(response.statusCode).toBe(200);
    const { run: _run, ...invoice } = response.json() as { run: unknown };
    // What `gridspot job invoice` computes from the notes it paid (the budget's note included).
    expect(invoice).toEqual(
      toJsonValue(
        buildInvoice({
          agreement: agreed,
          notes: planted.notes.slice(0, 2),
          vouchers: planted.vouchers.map((v) => ({
            cumulativeAmount: v.cumulativeAmount,
            noteSeq: v.noteSeq,
            redeemTx: TX,
          })),
        }),
      ),
    );
    const body = response.json() as {
      lines: { meter: string; amount: string }[];
      total: string;
      budgetCapApplied: boolean;
      trace: { notes: { seq: number }[]; vouchers: { cumulativeAmount: string; noteSeq: number }[] };
    };
    expect(body.lines.at(-1)).toMatchObject({
      meter: "budget_cap",
      amount: (budget - second.jobAmount).toString(),
    });
    expect(body.total).toBe(budget.toString());
    expect(body.budgetCapApplied).toBe(true);
    expect(body.lines.reduce((s, l) => s + BigInt(l.amount), 0n)).toBe(budget);
    expect(body.trace.notes.map((n) => n.seq)).toEqual([0, 1]);
    expect(body.trace.vouchers.at(-1)).toMatchObject({
      cumulativeAmount: (5n * GRID + budget).toString(),
      noteSeq: 1,
      redeemTx: TX,
    });
  });

  it("answers 404 for an unknown job and 409 for a job without a stored agreement", async () => {
    expect((await app.inject({ method: "GET", url: "/v1/jobs/job-nobody-1/invoice" })).statusCode).toBe(404);
    insertJob(store, {
      jobId: "job-legacy-1",
      orderId: "order-legacy",
      submitter: payer.address,
      channelId: 13n,
      channelBase: 0n,
      agreement: "{}",
      startedAt: 1,
    });
    const legacy = await app.inject({ method: "GET", url: "/v1/jobs/job-legacy-1/invoice" });
    expect(legacy.statusCode).toBe(409);
    expect((legacy.json() as { error: string }).error).toBe("no-agreement");
  });
});
