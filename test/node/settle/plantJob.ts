import type { Address, Hex, LocalAccount } from "viem";
import { signVoucher } from "../../../marketplace/chain/voucher.ts";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import { signEnvelope } from "../../../marketplace/messages/envelope.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import type { Meter } from "../../../marketplace/rating/meters.ts";
import { type PricedNoteState, priceNote } from "../../../marketplace/receipt/priceNote.ts";
import type { Store } from "../../../marketplace/store/openStore.ts";
import type { UsageEvent } from "../../../node/meter/types.ts";
import { chainEventsHash, ZERO_HASH } from "../../../node/receipt/eventsHash.ts";
import { insertUsageEvents } from "../../../node/store/insertUsageEvents.ts";
import { finishJob, insertJob } from "../../../node/store/jobRecords.ts";
import { insertNote, insertVoucher } from "../../../node/store/receiptRecords.ts";
import { unbilledEvents } from "../../../node/store/unbilledEvents.ts";
import { usageTotals } from "../../../node/store/usageTotals.ts";
import { signedAgreement } from "../store/signedAgreement.ts";

/** One receipt interval of a planted job: the usage measured in it, and whether the payer signed its note. */
export type PlantedInterval = {
  usage: Partial<Record<Meter, bigint>>;
  /** Cut a debit note after this interval's events (default true). */
  note?: boolean;
  /** The payer signs the note's voucher (default true when there is a note). */
  voucher?: boolean;
  /**
   * The payer's budget (a job amount) reached in this note: its voucher pays exactly that, less than
   * the note asked, as `takeVoucher` takes a partial voucher.
   */
  budget?: bigint;
  /** A spot agreement's rates for this note (default: the agreement's). */
  rates?: Rate[];
};

export type PlantJobParameters = {
  jobId: string;
  channelId: bigint;
  channelBase: bigint;
  agreement: Agreement;
  intervals: PlantedInterval[];
  /** Usage measured after the last note, never billed. */
  unbilledTail?: Partial<Record<Meter, bigint>>;
  /** Leave the job running (default: it ended, completed). */
  running?: boolean;
  chainId: number;
  escrow: Address;
  provider: LocalAccount;
  payer: LocalAccount;
  peerId: string;
  startedAt?: number;
};

export type PlantedJob = {
  notes: DebitNote[];
  vouchers: { cumulativeAmount: bigint; noteSeq: number; signature: Hex }[];
};

/**
 * Writes a job's whole billing trail into a real provider store the way the job service and runJob
 * do: the job row with its signed agreement, its usage events, a debit note per interval rated on cumulative totals and
 * signed by the provider, and vouchers signed by the payer (real EIP-712 for the escrow).
 */
export async function plantJob(store: Store, p: PlantJobParameters): Promise<PlantedJob> {
  const started = insertJob(store, {
    jobId: p.jobId,
    orderId: `order-${p.jobId}`.slice(0, 64),
    submitter: p.payer.address,
    channelId: p.channelId,
    channelBase: p.channelBase,
    agreement: await signedAgreement(p.agreement, {
      provider: p.provider,
      submitter: p.payer,
      chainId: p.chainId,
    }),
    startedAt: p.startedAt ?? 1_700_000_000_000,
  });
  if (!started.ok) throw new Error(`channel ${p.channelId} is busy with ${started.busyWith}`);
  const rates = p.agreement.rates.map(({ gpuClass: _class, ...r }) => r);
  const planted: PlantedJob = { notes: [], vouchers: [] };
  let prevHash: Hex = ZERO_HASH;
  let state: PricedNoteState | undefined;
  let seq = 0;
  let sample = 0;
  const record = (usage: Partial<Record<Meter, bigint>>) => {
    const events: UsageEvent[] = [];
    for (const [meter, quantity] of Object.entries(usage)) {
      events.push({
        id: `${p.jobId}:${meter}:${sample}`,
        jobId: p.jobId,
        source: "node",
        meter: meter as Meter,
        quantity: quantity ?? 0n,
        time: 1_700_000_000_000 + sample,
      });
    }
    sample++;
    insertUsageEvents(store, events);
  };
  for (const interval of p.intervals) {
    record(interval.usage);
    if (interval.note === false) continue;
    const events = unbilledEvents(store, p.jobId);
    const totals = usageTotals(store, p.jobId);
    const noteRates = interval.rates ?? rates;
    const priced = priceNote({
      agreement: p.agreement,
      channelBase: p.channelBase,
      rates: noteRates,
      previous: state,
      totals,
    });
    state = priced.state;
    const eventsHash = chainEventsHash(prevHash, events);
    const note: DebitNote = {
      jobId: p.jobId,
      channelId: p.channelId,
      seq,
      elapsedMs: 1_000 * (seq + 1),
      usage: Object.entries(totals).map(([meter, quantity]) => ({
        meter: meter as Meter,
        quantity: quantity ?? 0n,
      })),
      rates: noteRates,
      subtotal: priced.subtotal,
      jobAmount: priced.jobAmount,
      channelCumulative: priced.channelCumulative,
      eventsHash,
      eventCount: events.length,
      firstEventId: events[0]?.id ?? null,
      lastEventId: events.at(-1)?.id ?? null,
      final: false,
    };
    const envelope = await signEnvelope(p.provider, {
      chainId: p.chainId,
      kind: "DebitNote",
      peerId: p.peerId,
      expiresAt: 2_000_000_000,
      payload: note,
    });
    insertNote(
      store,
      {
        jobId: p.jobId,
        seq,
        envelope: JSON.stringify(envelope),
        jobAmount: note.jobAmount,
        channelCumulative: note.channelCumulative,
        eventsHash,
        createdAt: 1_700_000_000_000 + seq,
      },
      events.map((e) => e.id),
    );
    planted.notes.push(note);
    prevHash = eventsHash;
    if (interval.voucher !== false) {
      const cumulativeAmount =
        interval.budget === undefined ? note.channelCumulative : p.channelBase + interval.budget;
      const voucher = { channelId: p.channelId, cumulativeAmount };
      const signature = await signVoucher(p.payer, { chainId: p.chainId, escrow: p.escrow, voucher });
      insertVoucher(store, { ...voucher, signature, jobId: p.jobId, noteSeq: seq, receivedAt: 1 });
      planted.vouchers.push({ cumulativeAmount, noteSeq: seq, signature });
    }
    seq++;
  }
  if (p.unbilledTail !== undefined) record(p.unbilledTail);
  if (p.running !== true) {
    finishJob(store, p.jobId, {
      status: "completed",
      exitCode: 0,
      reason: "exit code 0",
      reasonCode: "exit",
      endedAt: 1_700_000_100_000,
    });
  }
  return planted;
}
