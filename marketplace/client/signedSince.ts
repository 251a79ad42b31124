import type { Store } from "../store/openStore.ts";

/**
 * What this submitter promised in vouchers signed at or after `sinceMs` (unix ms), over all jobs and
 * channels: each voucher adds its cumulative amount minus the channel's previous voucher (0 for the
 * channel's first), since a voucher raises the channel's promise by exactly that much.
 */
export function signedSince(store: Store, sinceMs: number): bigint {
  const rows = store.db
    .prepare(
      `SELECT channel_id, cumulative, signed_at FROM vouchers
       WHERE channel_id IN (SELECT channel_id FROM vouchers WHERE signed_at >= ?)`,
    )
    .all(sinceMs) as { channel_id: string; cumulative: string; signed_at: number }[];
  const byChannel = new Map<string, { cumulative: bigint; signedAt: number }[]>();
  for (const r of rows) {
    const list = byChannel.get(r.channel_id) ?? [];
    list.push({ cumulative: BigInt(r.cumulative), signedAt: r.signed_at });
    byChannel.set(r.channel_id, list);
  }
  let total = 0n;
  for (const list of byChannel.values()) {
    // Amounts are stored as text: order them as numbers here, not in SQL.
    list.sort((a, b) => (a.cumulative < b.cumulative ? -1 : a.cumulative > b.cumulative ? 1 : 0));
    let previous = 0n;
    for (const v of list) {
      if (v.signedAt >= sinceMs) total += v.cumulative - previous;
      previous = v.cumulative;
    }
  }
  return total;
}

/** Midnight UTC of the day that contains `ms`. */
export function startOfUtcDay(ms: number): number {
  return ms - (((ms % 86_400_000) + 86_400_000) % 86_400_000);
}
