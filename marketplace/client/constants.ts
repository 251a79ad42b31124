/** The spend policy file in the submitter's data dir. */
export const SPEND_POLICY_FILE = "policy.json";

/** Percentages of a job's budget that raise an alert when no policy file says otherwise. */
export const DEFAULT_ALERT_THRESHOLDS: readonly number[] = [50, 80, 100];

/** Webhook delivery: attempts in all, the first retry's delay, the cap on any delay, per-attempt timeout. */
export const WEBHOOK_ATTEMPTS = 5;
export const WEBHOOK_BASE_DELAY_MS = 250;
export const WEBHOOK_MAX_DELAY_MS = 4_000;
export const WEBHOOK_TIMEOUT_MS = 5_000;

/** How many of the latest accepted notes the burn rate is measured over. */
export const BURN_RATE_WINDOW_NOTES = 6;
