import { GRANULARITIES, type UsageSnapshot } from "./createUsageMeter.ts";

/** The sum of several meters' snapshots (a provider's replicas of one endpoint). */
export function sumUsage(snapshots: readonly UsageSnapshot[]): UsageSnapshot {
  const total: UsageSnapshot = {
    requests: 0n,
    tokens: 0n,
    busyPeriods: 0n,
    busyMs: 0n,
    billableMs: { ms: 0n, s: 0n, min: 0n },
    requestMs: 0n,
    requestBillableMs: { ms: 0n, s: 0n, min: 0n },
    inFlight: 0,
    busySince: null,
  };
  for (const s of snapshots) {
    total.requests += s.requests;
    total.tokens += s.tokens;
    total.busyPeriods += s.busyPeriods;
    total.busyMs += s.busyMs;
    total.requestMs += s.requestMs;
    total.inFlight += s.inFlight;
    for (const g of GRANULARITIES) {
      total.billableMs[g] += s.billableMs[g];
      total.requestBillableMs[g] += s.requestBillableMs[g];
    }
    if (s.busySince !== null && (total.busySince === null || s.busySince < total.busySince)) {
      total.busySince = s.busySince;
    }
  }
  return total;
}
