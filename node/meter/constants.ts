/** Default metering interval: DESIGN.md §1 meters every second. */
export const DEFAULT_METER_INTERVAL_MS = 1_000;

/** `source` of usage events measured by the provider node itself. */
export const NODE_SOURCE = "node";

/** Monotonic clock in whole milliseconds: wall time for metering never jumps with NTP. */
export const monotonicMs = (): bigint => process.hrtime.bigint() / 1_000_000n;
