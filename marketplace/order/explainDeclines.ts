import type { Decline } from "../messages/bid.ts";

export type DeclineSummary = {
  /** Providers that answered the order at all: a bid or a Decline. */
  seen: number;
  bids: number;
  /** Bids whose provider refused the Accept (its capacity went to another order meanwhile). */
  backedOut: number;
  /** Bids whose provider stopped answering before the agreement (gone offline, broken stream). */
  failed: number;
  /** Bids the auction refused, per reason (e.g. `unpriced-meter`: a meter the order set no maximum for). */
  refused: { reason: string; count: number }[];
  /** Declines per reason code, most frequent first. */
  reasons: { reason: Decline["reason"]; count: number }[];
  /** "12 providers saw the order: 5 gpu-class, 4 price-above-max, 3 bid". */
  text: string;
};

/**
 * Sums up an auction: how many providers answered, how many bid, and why the others declined, so a
 * submitter never gets an unexplained "no bids". Providers that do not fit answer only when the
 * order asks to `explain`; when nobody answered, the text says what that can mean.
 */
export function summarizeDeclines(p: {
  bids: number;
  declines: readonly Decline[];
  backedOut?: number;
  failed?: number;
  /** Bids refused by the auction itself, each with its reason code. */
  refused?: readonly { reason: string }[];
}): DeclineSummary {
  const counts = new Map<Decline["reason"], number>();
  for (const d of p.declines) counts.set(d.reason, (counts.get(d.reason) ?? 0) + 1);
  const reasons = [...counts]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
  const backedOut = Math.min(p.backedOut ?? 0, p.bids);
  const failed = Math.min(p.failed ?? 0, p.bids - backedOut);
  const refusedCounts = new Map<string, number>();
  for (const r of p.refused ?? []) refusedCounts.set(r.reason, (refusedCounts.get(r.reason) ?? 0) + 1);
  const refused = [...refusedCounts]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
  const seen = p.declines.length + p.bids + (p.refused?.length ?? 0);
  const parts = reasons.map((r) => `${r.count} ${r.reason}`);
  // "refused" so a bid the auction turned down never reads like the provider's own decline.
  parts.push(...refused.map((r) => `${r.count} bid refused (${r.reason})`));
  if (p.bids > 0) {
    const after = [
      ...(backedOut > 0 ? [`${backedOut} then no-capacity: taken by another order since the bid`] : []),
      ...(failed > 0 ? [`${failed} stopped answering`] : []),
    ];
    parts.push(after.length === 0 ? `${p.bids} bid` : `${p.bids} bid (${after.join("; ")})`);
  }
  const text =
    seen === 0
      ? "No provider answered: none is reachable, or none fits and the order did not ask to --explain."
      : `${seen} provider${seen === 1 ? "" : "s"} saw the order: ${parts.join(", ")}`;
  return { seen, bids: p.bids, backedOut, failed, refused, reasons, text };
}
