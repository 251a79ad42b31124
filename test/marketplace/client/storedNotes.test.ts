import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { privateKeyToAccount } from "viem/accounts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { signVoucher } from "../../../marketplace/chain/voucher.ts";
import { acceptedNotes, invoiceNotes } from "../../../marketplace/client/storedNotes.ts";
import { listJobVouchers, openSubmitterStore } from "../../../marketplace/client/submitterStore.ts";
import { buildInvoice } from "../../../marketplace/invoice/buildInvoice.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import type { Store } from "../../../marketplace/store/openStore.ts";
import { ESCROW, HOUR_MS, PROVIDER_KEY, SUBMITTER_KEY } from "../messages/fixtures.ts";
import { billedJob, storeBilledJob } from "../receipt/billedJob.ts";

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gridspot-invoice-notes-"));
  store = openSubmitterStore(join(dir, "submitter.db"));
});
afterEach(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

describe("invoiceNotes", () => {
  it("bills the note the payer paid its budget for, and `job invoice` caps it at the budget", async () => {
    const job = await billedJob({
      chainId: 31337,
      escrow: ESCROW,
      providerKey: PROVIDER_KEY,
      submitterKey: SUBMITTER_KEY,
      channelId: 4n,
      channelBase: 1_000n,
      granularity: "s",
      usages: [{ gpu_ms: HOUR_MS / 4n }, { gpu_ms: HOUR_MS / 2n }, { gpu_ms: HOUR_MS }],
    });
    const [first, second, third] = job.notes.map((n) => n.note) as [DebitNote, DebitNote, DebitNote];
    // The budget is reached in note 1: the payer refuses it as over the budget, signs exactly the
    // budget against it (runJobClient's signBudget) and stops the job; note 2 (the final) is refused.
    const budget = (first.jobAmount + second.jobAmount) / 2n;
    const cumulativeAmount = 1_000n + budget;
    const signature = await signVoucher(privateKeyToAccount(SUBMITTER_KEY), {
      chainId: 31337,
      escrow: ESCROW,
      voucher: { channelId: 4n, cumulativeAmount },
    });
    const vouchers = [...job.vouchers.slice(0, 1), { cumulativeAmount, noteSeq: 1, signature }];
    storeBilledJob(
      store,
      { ...job, vouchers },
      {
        channelAmount: 10n ** 18n,
        channelBase: 1_000n,
        budget,
        status: "cancelled",
      },
    );
    const refuse = store.db.prepare("UPDATE notes SET verdict = ? WHERE job_id = ? AND seq = ?");
    refuse.run(`amount ${second.jobAmount} exceeds the budget ${budget}`, job.agreement.jobId, 1);
    refuse.run(`amount ${third.jobAmount} exceeds the budget ${budget}`, job.agreement.jobId, 2);

    expect(acceptedNotes(store, job.agreement.jobId).map((n) => n.seq)).toEqual([0]);
    expect(invoiceNotes(store, job.agreement.jobId)).toEqual([first, second]);
    const invoice = buildInvoice({
      agreement: job.agreement,
      notes: invoiceNotes(store, job.agreement.jobId),
      vouchers: listJobVouchers(store, job.agreement.jobId).map((v) => ({
        cumulativeAmount: v.cumulativeAmount,
        noteSeq: v.noteSeq,
        redeemTx: null,
      })),
    });
    expect(invoice).toMatchObject({ total: budget, budgetCapApplied: true });
    expect(invoice.lines.at(-1)).toMatchObject({ meter: "budget_cap", amount: budget - second.jobAmount });
    expect(invoice.lines.reduce((s, l) => s + l.amount, 0n)).toBe(budget);
  });
});
