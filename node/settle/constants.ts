/** How often the redemption queue looks at the chain while it runs (sent transactions, pending vouchers). */
export const REDEEM_TICK_MS = 5_000;
/** Backoff after a failed send or read: the first delay, doubled per attempt up to the cap. */
export const REDEEM_BACKOFF_BASE_MS = 1_000;
export const REDEEM_BACKOFF_MAX_MS = 60_000;
/** Confirmations a redemption needs before it counts as paid (provider.json `redeem.confirmations`). */
export const DEFAULT_REDEEM_CONFIRMATIONS = 1;
/** A pending voucher this close to its channel's redeem deadline is warned about (seconds). */
export const REDEEM_DEADLINE_WARNING_S = 3_600;
/** Re-warned at most this often per channel (ms). */
export const REDEEM_WARNING_EVERY_MS = 600_000;
/** Confirmed redemptions younger than this are re-checked against the chain's `redeemed` each tick. */
export const REORG_WINDOW_MS = 3_600_000;
/** A sent transaction the node no longer knows, this long after sending, was lost (dropped). */
export const SENT_LOST_AFTER_MS = 30_000;
/** How long `redeem()` waits for the receipt of what it sent. */
export const REDEEM_RECEIPT_TIMEOUT_MS = 120_000;
/** How often the node looks for close requests on the channels of its running jobs. */
export const CHANNEL_WATCH_INTERVAL_MS = 1_000;
