import { setTimeout as sleep } from "node:timers/promises";
import type { Agreement } from "../messages/agreement.ts";
import type { Meter } from "../messages/primitives.ts";
import type { DebitNote } from "../messages/receipt.ts";
import type { UsageSnapshot } from "./createUsageMeter.ts";
import { endpointBusyMeter } from "./endpointBusyMeter.ts";

/** How often the payer looks again while its count catches up with a note. */
const POLL_MS = 20;

export type ObserveNoteParameters = {
  /** The gateway's count of the requests it sent this provider (`gateway.providerUsage`). */
  count: () => UsageSnapshot | undefined;
  agreement: Agreement;
  /** When the provider said the endpoint started, by this machine's clock. */
  startedAt: number;
  note: DebitNote;
  /**
   * What an earlier gateway counted and this one cannot have (the agent restarted): the usage of the
   * last note accepted before, added to this gateway's count.
   */
  baseline?: Partial<Record<Meter, bigint>> | undefined;
  now?: (() => number) | undefined;
};

/**
 * The payer's own count of what an endpoint note bills (DESIGN §12), the bound `verifyDebitNote`
 * holds the note to: the requests and tokens its gateway counted for this provider, and the busy
 * meter by `endpointBusyMeter` — each request's own time rounded up on its own (the provider's busy
 * periods nest inside the gateway's requests, so they can never bill more) — with the warm floor
 * over the time since the start by this clock. Answers still in transit when the provider cut the
 * note reach the gateway a moment later: it waits, up to the agreement's `meterToleranceMs`, until
 * its count reaches the note's, then answers what it counted (the note is refused when still above).
 */
export async function observeNote(p: ObserveNoteParameters): Promise<Partial<Record<Meter, bigint>>> {
  const now = p.now ?? Date.now;
  const terms = p.agreement.endpoint;
  if (terms === undefined) return {};
  const billed = new Map(p.note.usage.map((u) => [u.meter, u.quantity]));
  const deadline = now() + terms.meterToleranceMs;
  for (;;) {
    const observed = countNow(p, now() - p.startedAt + terms.meterToleranceMs);
    for (const [meter, q] of Object.entries(p.baseline ?? {}) as [Meter, bigint][]) {
      observed[meter] = (observed[meter] ?? 0n) + q;
    }
    const behind = Object.entries(observed).some(([meter, q]) => (billed.get(meter as Meter) ?? 0n) > q);
    if (!behind || now() >= deadline) return observed;
    await sleep(POLL_MS);
  }
}

function countNow(p: ObserveNoteParameters, elapsedMs: number): Partial<Record<Meter, bigint>> {
  const snapshot = p.count();
  const requestBillableMs = snapshot?.requestBillableMs[p.agreement.granularity] ?? 0n;
  const busy = endpointBusyMeter(p.agreement, {
    busyMs: requestBillableMs,
    runningMs: BigInt(Math.max(0, Math.ceil(elapsedMs))),
  });
  return {
    [busy.meter]: busy.quantity,
    requests: snapshot?.requests ?? 0n,
    tokens: snapshot?.tokens ?? 0n,
  };
}
