// Metering benchmark: how fast the provider's durable ledger takes usage events, and how fast
// cumulative totals are rated.
//
//   npm run bench:metering                      readable summary
//   npm run bench:metering -- --json            progress on stderr, one JSON object as the last stdout line
//   npm run bench:metering -- --runs 5 --events 200000
//
// Each run ingests `--events` events (default 1,000,000) in batches of `--batch` (1,000) through
// insertUsageEvents into a fresh SQLite file in the temp folder, opened like the node opens its
// ledger (WAL, synchronous=FULL: every batch's COMMIT waits for the disk). A tenth of the events
// sent are duplicates: ids sent before, re-sent unchanged, as a retrying meter or client would.
// Afterwards the rows are counted: every duplicate stored as new would show as an extra row, and
// `duplicatesCounted` (which must be 0) is that excess.
//
// The baseline is the naive way, one event per transaction (one fsync each), in the same run on a
// sample of `--baseline-sample` events (5,000), large enough for a steady rate and small enough
// to finish in seconds. Rating is `rateUsage` on cumulative totals of six meters with six rates, as
// the node rates a job at each debit note.
//
// Events come in the order a node meters `--jobs` (8) jobs at once: each sample of each job emits
// one event per meter, the jobs interleaved (with 100 jobs the id index takes inserts all over its
// range and every batch dirties many more pages). Figures are medians over `--runs` runs (3);
// `ingestEventsPerCpuSec` divides by the process's CPU time instead of wall time, which other load
// on the machine moves less.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { rateUsage } from "../../marketplace/rating/rateUsage.ts";
import type { Rate } from "../../marketplace/rating/types.ts";
import type { UsageEvent } from "../../node/meter/types.ts";
import { insertUsageEvents } from "../../node/store/insertUsageEvents.ts";
import { openProviderStore } from "../../node/store/openProviderStore.ts";
import { prng } from "./prng.ts";

export type MeteringFigures = {
  eventsIngested: number;
  ingestEventsPerSec: number;
  duplicatesCounted: number;
  ratingOpsPerSec: number;
  baselineEventsPerSec: number;
  baselineSample: number;
};

export type MeteringRun = MeteringFigures & {
  duplicatesSent: number;
  duplicatesReported: number;
  rowsStored: number;
  ingestSeconds: number;
  /** Events per second of this process's CPU time (user + system) while ingesting: less sensitive to other load. */
  ingestEventsPerCpuSec: number;
};

export type MeasureMeteringParameters = {
  events: number;
  batch: number;
  duplicateShare: number;
  baselineSample: number;
  /** Jobs metered at once: their events interleave in the ledger. */
  jobs: number;
  onProgress?: ((message: string) => void) | undefined;
};

const METERS = ["gpu_ms", "cpu_core_ms", "mem_mib_ms", "egress_bytes", "requests", "tokens"] as const;
const RATES: Rate[] = [
  { meter: "gpu_ms", price: 3_000_000_000_000_000_000n, per: 3_600_000n },
  { meter: "cpu_core_ms", price: 20_000_000_000_000_000n, per: 3_600_000n },
  { meter: "mem_mib_ms", price: 5_000_000_000_000_000n, per: 3_686_400_000n },
  { meter: "egress_bytes", price: 10_000_000_000_000_000n, per: 1_073_741_824n },
  { meter: "requests", price: 1_000_000_000_000n, per: 1n },
  { meter: "tokens", price: 2_000_000_000_000_000n, per: 1_000_000n },
];

/**
 * The n-th distinct event, in the order a node meters `jobs` jobs at once: every sample of every job
 * emits one event per meter, the jobs' samples interleaved.
 */
function eventNumber(n: number, jobs: number): UsageEvent {
  const jobId = `bench-job-${(n % jobs).toString().padStart(4, "0")}`;
  const k = Math.floor(n / jobs);
  const meter = METERS[k % METERS.length] ?? "gpu_ms";
  return {
    id: `${jobId}:${meter}:${Math.floor(k / METERS.length)}`,
    jobId,
    source: "node",
    meter,
    quantity: BigInt(1 + (n % 997)),
    time: 1_700_000_000_000 + n,
  };
}

/** One run on a fresh ledger file; the file is removed afterwards. */
export function measureMeteringOnce(p: MeasureMeteringParameters): MeteringRun {
  const dir = mkdtempSync(join(tmpdir(), "gridspot-bench-metering-"));
  try {
    const store = openProviderStore(join(dir, "provider.db"));
    const rand = prng(42);
    const perBatchDuplicates = Math.round(p.batch * p.duplicateShare);
    let fresh = 0;
    let sent = 0;
    let duplicatesSent = 0;
    let duplicatesReported = 0;
    let ingestNs = 0n;
    let ingestCpuUs = 0;
    while (sent < p.events) {
      const size = Math.min(p.batch, p.events - sent);
      const dups = Math.min(perBatchDuplicates, size);
      const batch: UsageEvent[] = [];
      for (let i = 0; i < size - dups; i++) batch.push(eventNumber(fresh++, p.jobs));
      // Re-sent ids: any event sent before, this batch's own included.
      for (let i = 0; i < dups; i++) batch.push(eventNumber(Math.floor(rand() * fresh), p.jobs));
      duplicatesSent += dups;
      const cpu = process.cpuUsage();
      const started = process.hrtime.bigint();
      const result = insertUsageEvents(store, batch);
      ingestNs += process.hrtime.bigint() - started;
      const used = process.cpuUsage(cpu);
      ingestCpuUs += used.user + used.system;
      duplicatesReported += result.duplicates.length;
      sent += size;
      if (sent % (p.batch * 100) === 0) p.onProgress?.(`  ${sent.toLocaleString("en-US")} events`);
    }
    const rowsStored = Number(
      (store.db.prepare("SELECT COUNT(*) AS n FROM usage_events").get() as { n: number | bigint }).n,
    );
    store.close();
    const ingestSeconds = Number(ingestNs) / 1e9;

    const baseline = openProviderStore(join(dir, "baseline.db"));
    const baselineStarted = process.hrtime.bigint();
    for (let n = 0; n < p.baselineSample; n++) insertUsageEvents(baseline, [eventNumber(n, p.jobs)]);
    const baselineSeconds = Number(process.hrtime.bigint() - baselineStarted) / 1e9;
    baseline.close();

    return {
      eventsIngested: sent,
      ingestEventsPerSec: Math.round(sent / ingestSeconds),
      // Every id re-sent and stored again would be a row beyond the distinct events sent.
      duplicatesCounted: rowsStored - fresh,
      ratingOpsPerSec: measureRating(),
      baselineEventsPerSec: Math.round(p.baselineSample / baselineSeconds),
      baselineSample: p.baselineSample,
      duplicatesSent,
      duplicatesReported,
      rowsStored,
      ingestSeconds,
      ingestEventsPerCpuSec: Math.round(sent / (ingestCpuUs / 1e6)),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** rateUsage calls per second on growing cumulative totals, for about half a second. */
function measureRating(): number {
  const totals: Record<string, bigint> = Object.fromEntries(METERS.map((m) => [m, 0n]));
  let calls = 0;
  let sink = 0n;
  const started = process.hrtime.bigint();
  const budget = 500_000_000n;
  for (;;) {
    for (let i = 0; i < 1_000; i++) {
      for (const m of METERS) totals[m] = (totals[m] ?? 0n) + 1_000n + BigInt(i);
      sink += rateUsage(totals, RATES, "s").total;
    }
    calls += 1_000;
    if (process.hrtime.bigint() - started >= budget) break;
  }
  if (sink < 0n) throw new Error("unreachable");
  return Math.round(calls / (Number(process.hrtime.bigint() - started) / 1e9));
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? 0)
    : Math.round(((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2);
};

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      json: { type: "boolean", default: false },
      runs: { type: "string", default: "3" },
      events: { type: "string", default: "1000000" },
      batch: { type: "string", default: "1000" },
      "baseline-sample": { type: "string", default: "5000" },
      jobs: { type: "string", default: "8" },
    },
  });
  const int = (name: string, value: string) => {
    if (!/^[1-9]\d*$/.test(value)) throw new Error(`--${name} must be a positive integer, got ${value}`);
    return Number(value);
  };
  const runs = int("runs", values.runs);
  const parameters: MeasureMeteringParameters = {
    events: int("events", values.events),
    batch: int("batch", values.batch),
    duplicateShare: 0.1,
    baselineSample: int("baseline-sample", values["baseline-sample"]),
    jobs: int("jobs", values.jobs),
    onProgress: (message) => process.stderr.write(`${message}\n`),
  };
  const results: MeteringRun[] = [];
  for (let run = 1; run <= runs; run++) {
    process.stderr.write(`run ${run}/${runs}\n`);
    const result = measureMeteringOnce(parameters);
    process.stderr.write(
      `  ingest ${result.ingestEventsPerSec.toLocaleString("en-US")} events/s (${result.ingestEventsPerCpuSec.toLocaleString("en-US")} per CPU second), baseline ${result.baselineEventsPerSec.toLocaleString("en-US")} events/s, rating ${result.ratingOpsPerSec.toLocaleString("en-US")} ops/s, rows ${result.rowsStored}, duplicates sent ${result.duplicatesSent}, reported ${result.duplicatesReported}\n`,
    );
    results.push(result);
  }
  const figures: MeteringFigures & Record<string, unknown> = {
    eventsIngested: parameters.events,
    ingestEventsPerSec: median(results.map((r) => r.ingestEventsPerSec)),
    duplicatesCounted: Math.max(...results.map((r) => r.duplicatesCounted)),
    ratingOpsPerSec: median(results.map((r) => r.ratingOpsPerSec)),
    baselineEventsPerSec: median(results.map((r) => r.baselineEventsPerSec)),
    baselineSample: parameters.baselineSample,
    runs,
    batchSize: parameters.batch,
    concurrentJobs: parameters.jobs,
    duplicatesSent: results[0]?.duplicatesSent ?? 0,
    duplicatesReported: results.map((r) => r.duplicatesReported),
    ingestEventsPerSecRuns: results.map((r) => r.ingestEventsPerSec),
    ingestEventsPerCpuSecRuns: results.map((r) => r.ingestEventsPerCpuSec),
    baselineEventsPerSecRuns: results.map((r) => r.baselineEventsPerSec),
    ledger: "SQLite file in the temp folder, journal_mode=WAL, synchronous=FULL, one transaction per batch",
    baselineNote: `one event per transaction, measured on the first ${parameters.baselineSample} events only`,
  };
  const text = [
    `events ingested        ${figures.eventsIngested.toLocaleString("en-US")} (batches of ${parameters.batch}, 10 % re-sent)`,
    `ingest                 ${figures.ingestEventsPerSec.toLocaleString("en-US")} events/s (median of ${runs})`,
    `baseline (1 per tx)    ${figures.baselineEventsPerSec.toLocaleString("en-US")} events/s (sample of ${parameters.baselineSample})`,
    `duplicates counted     ${figures.duplicatesCounted}`,
    `rating                 ${figures.ratingOpsPerSec.toLocaleString("en-US")} rateUsage calls/s`,
  ].join("\n");
  process.stdout.write(values.json ? `${JSON.stringify(figures)}\n` : `${text}\n`);
  return figures.duplicatesCounted === 0 ? 0 : 1;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `bench:metering failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
