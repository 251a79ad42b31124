import type { Hex, LocalAccount } from "viem";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import { type Envelope, signEnvelope } from "../../marketplace/messages/envelope.ts";
import type { Rate } from "../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../marketplace/messages/receipt.ts";
import { priceNote } from "../../marketplace/receipt/priceNote.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { insertNote } from "../store/receiptRecords.ts";
import { unbilledEvents } from "../store/unbilledEvents.ts";
import { usageTotals } from "../store/usageTotals.ts";
import { NOTE_VALIDITY_S } from "./constants.ts";
import { chainEventsHash } from "./eventsHash.ts";

export type CutNoteComponents = { store: Store; account: LocalAccount; chainId: number; peerId: string };

/** What the previous note billed: the base the next one prices from. */
export type BilledSoFar = {
  seq: number;
  eventsHash: Hex;
  previous: { totals: Record<string, bigint>; subtotal: bigint } | undefined;
};

export type CutNoteParameters = {
  agreement: Agreement;
  channelId: bigint;
  channelBase: bigint;
  /** When the job's first process started (the note's `elapsedMs` counts from it). */
  startedAt: number;
  billed: BilledSoFar;
  /** The rates this note prices at: the agreement's, or a spot agreement's current ones. */
  rates: Rate[];
  final: boolean;
};

export type CutNoteReturnType = { note: DebitNote; envelope: Envelope; billed: BilledSoFar };

/**
 * Cuts the job's next debit note: the ledger's unbilled events and cumulative totals, priced by the
 * one rule every side uses (`priceNote`), chained to the previous note's events hash, signed, and
 * stored with its events marked billed in one transaction, before it is sent. Notes of one job must
 * be cut one at a time (the caller queues them): two at once would bill the same events.
 */
export async function cutNote(
  components: CutNoteComponents,
  p: CutNoteParameters,
): Promise<CutNoteReturnType> {
  const { store, account, chainId, peerId } = components;
  const jobId = p.agreement.jobId;
  const events = unbilledEvents(store, jobId);
  const totals = usageTotals(store, jobId);
  const priced = priceNote({
    agreement: p.agreement,
    channelBase: p.channelBase,
    rates: p.rates,
    totals,
    previous: p.billed.previous,
  });
  const eventsHash = chainEventsHash(p.billed.eventsHash, events);
  const note: DebitNote = {
    jobId,
    channelId: p.channelId,
    seq: p.billed.seq,
    elapsedMs: Date.now() - p.startedAt,
    usage: Object.entries(totals).map(([meter, quantity]) => ({
      meter: meter as DebitNote["usage"][number]["meter"],
      quantity: quantity ?? 0n,
    })),
    rates: p.rates,
    subtotal: priced.subtotal,
    jobAmount: priced.jobAmount,
    channelCumulative: priced.channelCumulative,
    eventsHash,
    eventCount: events.length,
    firstEventId: events[0]?.id ?? null,
    lastEventId: events.at(-1)?.id ?? null,
    final: p.final,
  };
  const envelope = await signEnvelope(account, {
    chainId,
    kind: "DebitNote",
    peerId,
    expiresAt: Math.floor(Date.now() / 1000) + NOTE_VALIDITY_S,
    payload: note,
  });
  insertNote(
    store,
    {
      jobId,
      seq: note.seq,
      envelope: JSON.stringify(envelope),
      jobAmount: note.jobAmount,
      channelCumulative: note.channelCumulative,
      eventsHash,
      createdAt: Date.now(),
    },
    events.map((e) => e.id),
  );
  return {
    note,
    envelope,
    billed: { seq: note.seq + 1, eventsHash, previous: { totals, subtotal: priced.subtotal } },
  };
}
