import { GIB_HOUR_MIB_MS } from "../rating/constants.ts";
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

/**
 * The maxima an order carries for the time meters the submitter left open (`withDefaultMaxRates`):
 * generous ceilings (100 GRID per GPU-hour, 10 GRID per core-hour, 10 GRID per GiB-hour), so that
 * every meter a bid may price has a maximum the payer agreed to. Counted meters (egress, requests,
 * tokens) get none: a bid pricing them needs the submitter's own maximum.
 */
export const DEFAULT_MAX_RATES = [
  { meter: "gpu_ms", price: 100n * 10n ** 18n, per: 3_600_000n },
  { meter: "cpu_core_ms", price: 10n * 10n ** 18n, per: 3_600_000n },
  { meter: "mem_mib_ms", price: 10n * 10n ** 18n, per: GIB_HOUR_MIB_MS },
] as const;
