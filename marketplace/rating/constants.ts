/** The most bands a tiered rate may have: bounds the message size and the work to rate a note. */
export const MAX_TIER_BANDS = 16;

/** Milliseconds in an hour: prices are shown and compared per GPU-hour, core-hour and GiB-hour. */
export const HOUR_MS = 3_600_000n;

/** MiB·ms in a GiB-hour: memory is priced per GiB-hour and metered in MiB·ms. */
export const GIB_HOUR_MIB_MS = HOUR_MS * 1024n;
