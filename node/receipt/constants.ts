/** How often the voucher watchdog looks at the oldest unanswered note. */
export const WATCHDOG_INTERVAL_MS = 50;
/** How long a signed debit note stays valid (its envelope's expiry). */
export const NOTE_VALIDITY_S = 7 * 24 * 3600;
