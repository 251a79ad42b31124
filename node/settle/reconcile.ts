import type { Address, PublicClient } from "viem";
import { readChannel } from "../../marketplace/chain/actions/readChannel.ts";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { countUnbilledEvents } from "../store/countUnbilledEvents.ts";
import { jobAgreement } from "../store/jobAgreement.ts";
import { type JobRecord, listJobs } from "../store/jobRecords.ts";
import { latestVoucher, listNotes } from "../store/receiptRecords.ts";
import { storedNotePayload } from "../store/storedNotePayload.ts";
import { usageTotals } from "../store/usageTotals.ts";
import { priceLedger } from "./priceLedger.ts";
import {
  type ChannelReconciliation,
  DIFFERENCE_KINDS,
  type JobReconciliation,
  type RatesSource,
  type ReconcileDifference,
  type ReconcileReport,
} from "./reconcileTypes.ts";

/** Where the escrow is read. */
export type ReconcileChain = { publicClient: PublicClient; escrow: Address };

export type ReconcileOptions = {
  /** Only these channels (default: every channel a job of this node used). */
  channelIds?: readonly bigint[] | undefined;
  /** Epoch ms for `checkedAt`. Default `Date.now()`. */
  now?: number | undefined;
};

/**
 * Reconciles, per payment channel, four records of the same money: the usage ledger rated with
 * each job's agreement, the debit notes sent, the newest voucher held, and what the escrow has
 * redeemed on-chain (read now). Each difference is reported with its kind and amount (see
 * DIFFERENCE_KINDS); a channel without any is `ok`. Nothing is changed, on-chain or in the store.
 *
 * A channel with a running job is reported with `running: true`: its jobs' ledger and notes are
 * compared only once they end (the newest interval is always billed a little later), and its
 * vouchers are not yet due for redemption (the node redeems them when the job ends). An escrow that
 * paid more than any voucher held is reported whatever runs.
 */
export async function reconcile(
  store: Store,
  chain: ReconcileChain,
  options: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const byChannel = new Map<bigint, JobRecord[]>();
  for (const job of listJobs(store, -1)) {
    const list = byChannel.get(job.channelId);
    if (list === undefined) byChannel.set(job.channelId, [job]);
    else list.push(job);
  }
  // A channel's jobs in the order they ran: each one's base is what the payer had signed before it.
  for (const list of byChannel.values()) {
    list.sort((a, b) =>
      a.channelBase !== b.channelBase ? (a.channelBase < b.channelBase ? -1 : 1) : a.startedAt - b.startedAt,
    );
  }
  const wanted = options.channelIds ?? [...byChannel.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const channels: ChannelReconciliation[] = [];
  for (const channelId of wanted) {
    channels.push(await reconcileChannel(store, chain, channelId, byChannel.get(channelId) ?? []));
  }
  const summary = Object.fromEntries(
    DIFFERENCE_KINDS.map((k) => [k, { channels: 0, amount: 0n }]),
  ) as ReconcileReport["summary"];
  for (const channel of channels) {
    const seen = new Set<string>();
    for (const d of channel.differences) {
      const entry = summary[d.kind];
      if (!seen.has(d.kind)) entry.channels++;
      seen.add(d.kind);
      entry.amount += d.amount ?? 0n;
    }
  }
  return {
    checkedAt: options.now ?? Date.now(),
    ok: channels.every((c) => c.status === "ok"),
    channels,
    summary,
  };
}

async function reconcileChannel(
  store: Store,
  chain: ReconcileChain,
  channelId: bigint,
  jobs: readonly JobRecord[],
): Promise<ChannelReconciliation> {
  const differences: ReconcileDifference[] = [];
  const jobResults: JobReconciliation[] = [];
  let noteCumulative = 0n;
  for (const job of jobs) {
    const result = reconcileJob(store, job);
    jobResults.push(result.job);
    if (result.noteCumulative !== undefined && result.noteCumulative > noteCumulative) {
      noteCumulative = result.noteCumulative;
    }
    if (job.status === "running") continue;
    const { ledgerAmount, noteAmount } = result.job;
    if (ledgerAmount === null) {
      if (result.job.unbilledEvents > 0) {
        differences.push({
          kind: "unbilled-usage",
          amount: null,
          jobId: job.jobId,
          detail: `${result.job.unbilledEvents} usage event(s) not billed, and no rates are known to price them`,
        });
      }
    } else if (ledgerAmount > noteAmount) {
      differences.push({
        kind: "unbilled-usage",
        amount: ledgerAmount - noteAmount,
        jobId: job.jobId,
        detail: `the ledger rates to ${ledgerAmount} but the last note bills ${noteAmount} (${result.job.unbilledEvents} event(s) not billed)`,
      });
    } else if (noteAmount > ledgerAmount) {
      differences.push({
        kind: "note-above-ledger",
        amount: noteAmount - ledgerAmount,
        jobId: job.jobId,
        detail: `the last note bills ${noteAmount} but the ledger rates to only ${ledgerAmount}`,
      });
    }
  }

  const running = jobs.some((j) => j.status === "running");
  const voucherCumulative = latestVoucher(store, channelId)?.cumulativeAmount ?? 0n;
  if (!running && noteCumulative > voucherCumulative) {
    differences.push({
      kind: "unsigned-note",
      amount: noteCumulative - voucherCumulative,
      jobId: jobs.at(-1)?.jobId ?? null,
      detail: `the newest note asks for ${noteCumulative} on the channel but the newest voucher is for ${voucherCumulative}`,
    });
  }

  const state = await readChannel(chain.publicClient, { escrow: chain.escrow, channelId });
  // A running job's vouchers are redeemed when it ends: until then, holding them is no difference.
  if (voucherCumulative > state.redeemed && !running) {
    const redeemable =
      (state.status === "open" || state.status === "closing") && Date.now() / 1000 < state.deadline;
    differences.push({
      kind: "unredeemed-voucher",
      amount: voucherCumulative - state.redeemed,
      jobId: null,
      detail: `a voucher for ${voucherCumulative} is held but the escrow has redeemed ${state.redeemed}; the channel is ${state.status}${redeemable ? ", still redeemable" : ", no longer redeemable"}`,
    });
  } else if (state.redeemed > voucherCumulative) {
    differences.push({
      kind: "over-redemption",
      amount: state.redeemed - voucherCumulative,
      jobId: null,
      detail: `the escrow has redeemed ${state.redeemed} but the highest voucher held is for ${voucherCumulative}`,
    });
  }

  return {
    channelId,
    status: differences.length === 0 ? "ok" : "differences",
    running,
    jobs: jobResults,
    noteCumulative,
    voucherCumulative,
    redeemedOnChain: state.redeemed,
    chain: {
      status: state.status,
      amount: state.amount,
      expiry: state.expiry,
      deadline: state.deadline,
      provider: state.provider,
    },
    differences,
  };
}

/**
 * One job's ledger priced with `priceLedger` (the one note rule applied to the ledger's totals), and
 * its last note.
 */
function reconcileJob(store: Store, job: JobRecord): { job: JobReconciliation; noteCumulative?: bigint } {
  const notes = listNotes(store, job.jobId);
  const note = notes.at(-1);
  const terms = jobAgreement(job);
  let card: Pick<Agreement, "pricing" | "rates" | "granularity" | "minimumCharge"> | undefined;
  let ratesSource: RatesSource = "none";
  if (terms !== undefined) {
    card = terms;
    ratesSource = "agreement";
  } else if (note !== undefined) {
    // A job whose stored agreement cannot be read today (an older agreement schema): its note states
    // the rates it used. Its granularity is unknown; "ms" rounds nothing up, so it can only
    // understate the ledger, never invent leakage.
    card = { pricing: "fixed", rates: storedNotePayload(note).rates, granularity: "ms" };
    ratesSource = "last-note";
  }
  const totals = usageTotals(store, job.jobId);
  const hasUsage = Object.keys(totals).length > 0;
  let ledgerAmount: bigint | null = null;
  if (card !== undefined) {
    // No usage and no note, no bill: a minimum charge is owed only once the job was billed at all.
    ledgerAmount =
      !hasUsage && note === undefined
        ? 0n
        : priceLedger({
            card,
            notes: card.pricing === "spot" ? notes.map(storedNotePayload) : [],
            totals,
          });
  }
  return {
    job: {
      jobId: job.jobId,
      status: job.status,
      ledgerAmount,
      ratesSource,
      noteAmount: note?.jobAmount ?? 0n,
      lastNoteSeq: note?.seq ?? null,
      unbilledEvents: countUnbilledEvents(store, job.jobId),
    },
    ...(note === undefined ? {} : { noteCumulative: note.channelCumulative }),
  };
}
