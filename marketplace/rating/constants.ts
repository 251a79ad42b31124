/** The most bands a tiered rate may have: bounds the message size and the work to rate a note. */
export const MAX_TIER_BANDS = 16;
