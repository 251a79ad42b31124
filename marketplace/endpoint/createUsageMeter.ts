import type { Granularity } from "../rating/types.ts";
import { billableGpuMs } from "./billableGpuMs.ts";

/** The granularities a meter bills at (the agreement picks one). */
export const GRANULARITIES: readonly Granularity[] = ["ms", "s", "min"];
const NS_PER_MS = 1_000_000n;

/** One closed busy period: at least one request was in flight throughout. */
export type BusyPeriod = {
  /** Epoch ms it began. */
  startedAt: number;
  /** Its length in whole milliseconds, rounded up from the monotonic clock. */
  ms: bigint;
};

/** What a {@link UsageMeter} counted so far. All counts are cumulative. */
export type UsageSnapshot = {
  /** Requests answered (a response head came from the replica). */
  requests: bigint;
  /** Tokens of those answers (see `createTokenCounter`). */
  tokens: bigint;
  /** Busy periods closed so far, and their total length (each rounded up to a whole ms). */
  busyPeriods: bigint;
  busyMs: bigint;
  /** What the closed periods bill at each granularity, for one GPU ({@link billableGpuMs}). */
  billableMs: Record<Granularity, bigint>;
  /** The sum of each request's own time in flight (ms, each rounded up): above `busyMs` when requests overlap. */
  requestMs: bigint;
  /**
   * Each request's own time billed on its own at each granularity, summed (for one GPU): never
   * below what any split of these requests into busy periods bills — however the provider's
   * replicas shared them, its periods nest inside these requests — so the payer's bound on a note.
   */
  requestBillableMs: Record<Granularity, bigint>;
  /** Requests in flight now, and the epoch ms the open busy period began (null when idle). */
  inFlight: number;
  busySince: number | null;
};

export type UsageMeter = {
  /** A request is in flight from now; call the returned function once, when it is over. */
  begin(): () => void;
  /** Counts one answered request. */
  countRequest(): void;
  /** Adds tokens counted in an answer. */
  addTokens(tokens: bigint): void;
  snapshot(): UsageSnapshot;
};

export type CreateUsageMeterParameters = {
  /** Told of each busy period as it closes (to record it as a usage event). */
  onPeriod?: ((period: BusyPeriod) => void) | undefined;
  /** Monotonic clock in ns (default `process.hrtime.bigint`); tests may pass their own. */
  clock?: (() => bigint) | undefined;
};

/**
 * Meters one replica (the provider's proxy) or one endpoint (the payer's gateway), each on its own
 * observations: requests, tokens, and busy time — the stretches with at least one request in
 * flight, which is what a replica's GPU is sold for. Periods are billed as they close with
 * {@link billableGpuMs}, so the meter keeps totals, not a list that grows with traffic.
 */
export function createUsageMeter(parameters: CreateUsageMeterParameters = {}): UsageMeter {
  const clock = parameters.clock ?? process.hrtime.bigint;
  let requests = 0n;
  let tokens = 0n;
  let busyPeriods = 0n;
  let busyMs = 0n;
  let requestMs = 0n;
  const billableMs: Record<Granularity, bigint> = { ms: 0n, s: 0n, min: 0n };
  const requestBillableMs: Record<Granularity, bigint> = { ms: 0n, s: 0n, min: 0n };
  let inFlight = 0;
  let busyStartNs = 0n;
  let busySince: number | null = null;

  const ceilMs = (ns: bigint) => (ns + NS_PER_MS - 1n) / NS_PER_MS;

  return {
    begin() {
      const startNs = clock();
      if (inFlight === 0) {
        busyStartNs = startNs;
        busySince = Date.now();
      }
      inFlight += 1;
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        const endNs = clock();
        const ownMs = ceilMs(endNs - startNs);
        requestMs += ownMs;
        for (const granularity of GRANULARITIES) {
          requestBillableMs[granularity] += billableGpuMs([ownMs], { granularity });
        }
        inFlight -= 1;
        if (inFlight > 0) return;
        const ms = ceilMs(endNs - busyStartNs);
        busyPeriods += 1n;
        busyMs += ms;
        for (const granularity of GRANULARITIES) {
          billableMs[granularity] += billableGpuMs([ms], { granularity });
        }
        const startedAt = busySince ?? Date.now();
        busySince = null;
        parameters.onPeriod?.({ startedAt, ms });
      };
    },
    countRequest() {
      requests += 1n;
    },
    addTokens(count) {
      if (count > 0n) tokens += count;
    },
    snapshot: () => ({
      requests,
      tokens,
      busyPeriods,
      busyMs,
      billableMs: { ...billableMs },
      requestMs,
      requestBillableMs: { ...requestBillableMs },
      inFlight,
      busySince,
    }),
  };
}
