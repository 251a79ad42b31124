/**
 * How long the payer has to close its side of the job stream after the `end` frame: then the stream
 * is reset, so a payer that keeps it open (asleep, or gone without a word) cannot hold the job, and
 * its capacity, for ever.
 */
export const PAYER_CLOSE_WAIT_MS = 5_000;
