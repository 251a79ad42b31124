/** Default metering interval: DESIGN.md §1 meters every second. */
export const DEFAULT_METER_INTERVAL_MS = 1_000;

/** `source` of usage events measured by the provider node itself. */
export const NODE_SOURCE = "node";

/** Monotonic clock in whole milliseconds: wall time for metering never jumps with NTP. */
export const monotonicMs = (): bigint => process.hrtime.bigint() / 1_000_000n;

/** The environment variable naming the file a job appends its own usage lines to. */
export const USAGE_FILE_ENV = "GRIDSPOT_USAGE_FILE";

/** The usage file's name inside the job's work dir. */
export const USAGE_FILE_NAME = ".gridspot-usage.jsonl";

/** At most this much of the job's usage file is read per sample; the rest waits for the next one. */
export const MAX_JOB_USAGE_READ_BYTES = 1024 * 1024;

/** A usage line longer than this is bad (and skipped). */
export const MAX_JOB_USAGE_LINE_BYTES = 4096;

/** A job's own event id may be this long (the ledger id adds `${jobId}:job:`). */
export const MAX_JOB_USAGE_ID_CHARS = 128;

/**
 * The most one line may report: 2^40 ≈ 1.1e12 requests or tokens. It keeps a job's totals far
 * below SQLite's 2^63 (8 million maximal lines), so a job cannot make its ledger sums overflow.
 */
export const MAX_JOB_USAGE_QUANTITY = 2n ** 40n;
