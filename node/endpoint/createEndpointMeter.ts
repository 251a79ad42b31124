import type { UsageSnapshot } from "../../marketplace/endpoint/createUsageMeter.ts";
import { endpointBusyMeter } from "../../marketplace/endpoint/endpointBusyMeter.ts";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import type { Meter } from "../../marketplace/messages/primitives.ts";
import { collectFromSources } from "../meter/collectFromSources.ts";
import { DEFAULT_METER_INTERVAL_MS, monotonicMs, NODE_SOURCE } from "../meter/constants.ts";
import type { UsageEvent, UsageSource } from "../meter/types.ts";

/** What the meter reads: the proxy's cumulative counts of the endpoint, all its replicas summed. */
export type EndpointReading = Pick<UsageSnapshot, "requests" | "tokens" | "billableMs">;

export type CreateEndpointMeterParameters = {
  jobId: string;
  /** The endpoint's agreement: its replicas, resources, granularity and GPU class. */
  agreement: Pick<
    Agreement,
    "gpus" | "cpuCores" | "memMiB" | "maxDurationS" | "endpoint" | "granularity" | "gpuClass"
  >;
  /** The proxy's usage of the endpoint now (`proxy.usage(id)?.total`); undefined before any. */
  read: () => EndpointReading | undefined;
  /** Default DEFAULT_METER_INTERVAL_MS. */
  intervalMs?: number | undefined;
  /** Receives each sample's events (possibly none); awaited before the next sample. */
  onEvents: (events: UsageEvent[]) => void | Promise<void>;
  /** Called when `onEvents`, `read` or a source fails; metering goes on. */
  onError?: ((error: unknown) => void) | undefined;
  /** More usage collected at each sample (the egress counter), stored with the sample's events. */
  sources?: readonly UsageSource[] | undefined;
  /** Wall clock for event times (default Date.now); monotonic ms for time (default hrtime). */
  now?: (() => number) | undefined;
  monotonicNow?: (() => bigint) | undefined;
};

/** The meters an endpoint bills. */
type Counted = "busy" | "requests" | "tokens";

/** An endpoint's meter: the surface `runJob` uses for a job's meter, and the end of its warm clock. */
export type EndpointMeter = {
  /** Takes the baseline and starts sampling. Idempotent; throws after stop(). */
  start(): void;
  /** Bills up to now, then bills nothing (time, busy time, requests, tokens) until `resume()`. */
  pause(): Promise<void>;
  /** Skips the suspended stretch and bills again from now. */
  resume(): Promise<void>;
  /** The endpoint stops serving: its warm time ends now (what is counted after still bills). */
  endClock(): void;
  /** Takes a last sample (nothing counted is lost), delivers it and stops; Σ emitted per meter. */
  stop(): Promise<Partial<Record<Meter, bigint>>>;
  /** Σ emitted per meter so far. */
  totals(): Partial<Record<Meter, bigint>>;
};

/**
 * Meters an endpoint served as a job (DESIGN §12): every `intervalMs` (and at pause, resume and
 * stop) it reads the proxy's cumulative counts and stores usage events for what grew since, on
 * the meters the job's receipts bill unchanged:
 * - busy time, as `endpointBusyMeter` rules: `gpu_ms` (busy ms × a replica's GPUs) or, for CPU-only
 *   replicas, `cpu_core_ms` (busy ms × a replica's cores), each busy period rounded up to the
 *   agreement's granularity, never less than the warm floor of `minReplicas` replicas over the time
 *   served and not suspended;
 * - `requests` and `tokens` as the proxy counted them.
 * What grows while suspended is not billed. Ids are `${jobId}:${meter}:${seq}` with seq the sample's
 * number, as a job meter's: deterministic, so a retried insert never counts twice.
 */
export function createEndpointMeter(parameters: CreateEndpointMeterParameters): EndpointMeter {
  const { jobId, agreement } = parameters;
  const intervalMs = parameters.intervalMs ?? DEFAULT_METER_INTERVAL_MS;
  if (!Number.isSafeInteger(intervalMs) || intervalMs <= 0) {
    throw new RangeError(`intervalMs must be a positive integer, got ${intervalMs}`);
  }
  const now = parameters.now ?? Date.now;
  const mono = parameters.monotonicNow ?? monotonicMs;
  const onError = parameters.onError ?? ((e: unknown) => console.error("gridspot:node:endpoint:meter", e));
  const busyMeter = endpointBusyMeter(agreement).meter;
  const meterOf: Record<Counted, Meter> = { busy: busyMeter, requests: "requests", tokens: "tokens" };
  const sources = parameters.sources ?? [];

  const zero = (): Record<Counted, bigint> => ({ busy: 0n, requests: 0n, tokens: 0n });
  /** The proxy's last reading, what of it fell in suspended stretches, and what was billed. */
  let last = zero();
  const skipped = zero();
  const emitted = zero();
  let runningMs = 0n;
  let lastMono = 0n;
  let clockEnd: bigint | undefined;
  let seq = 0;
  let started = false;
  let paused = false;
  let stopped: Promise<Partial<Record<Meter, bigint>>> | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  const read = (): Record<Counted, bigint> => {
    try {
      const reading = parameters.read();
      if (reading === undefined) return last;
      return {
        busy: reading.billableMs[agreement.granularity],
        requests: reading.requests,
        tokens: reading.tokens,
      };
    } catch (error) {
      onError(error);
      return last;
    }
  };

  const totals = (): Partial<Record<Meter, bigint>> => ({
    [busyMeter]: emitted.busy,
    requests: emitted.requests,
    tokens: emitted.tokens,
  });

  const sampleOnce = async () => {
    const n = seq++;
    const monoMs = mono();
    const timeMs = now();
    const until = clockEnd !== undefined && clockEnd < monoMs ? clockEnd : monoMs;
    if (until > lastMono) {
      if (!paused) runningMs += until - lastMono;
      lastMono = until;
    }
    const reading = read();
    for (const k of ["busy", "requests", "tokens"] as const) {
      // Counts only grow; what grew while suspended is set aside for good.
      if (paused && reading[k] > last[k]) skipped[k] += reading[k] - last[k];
    }
    last = reading;
    const net = (k: Counted) => (last[k] > skipped[k] ? last[k] - skipped[k] : 0n);
    const due: Record<Counted, bigint> = {
      busy: endpointBusyMeter(agreement, { busyMs: net("busy"), runningMs }).quantity,
      requests: net("requests"),
      tokens: net("tokens"),
    };
    const events: UsageEvent[] = [];
    for (const k of ["busy", "requests", "tokens"] as const) {
      if (due[k] <= emitted[k]) continue;
      const meter = meterOf[k];
      const event: UsageEvent = {
        id: `${jobId}:${meter}:${n}`,
        jobId,
        source: NODE_SOURCE,
        meter,
        quantity: due[k] - emitted[k],
        time: timeMs,
      };
      if (meter === "gpu_ms" && agreement.gpuClass !== undefined) event.gpuClass = agreement.gpuClass;
      emitted[k] = due[k];
      events.push(event);
    }
    events.push(
      ...(await collectFromSources(sources, { seq: n, monoMs, timeMs, pids: [], paused }, onError)),
    );
    try {
      await parameters.onEvents(events);
    } catch (error) {
      onError(error);
    }
  };

  const schedule = () => {
    timer = setTimeout(() => {
      inFlight = sampleOnce().then(() => {
        if (stopped === undefined) schedule();
      });
    }, intervalMs);
    timer.unref();
  };

  return {
    start() {
      if (stopped !== undefined) throw new Error(`meter of endpoint ${jobId} is stopped`);
      if (started) return;
      started = true;
      lastMono = mono();
      // The baseline: whatever the proxy counted before the start is not this job's.
      last = read();
      skipped.busy = last.busy;
      skipped.requests = last.requests;
      skipped.tokens = last.tokens;
      for (const source of sources) source.start?.(lastMono);
      schedule();
    },
    pause() {
      if (!started || paused || stopped !== undefined) return Promise.resolve();
      inFlight = inFlight.then(sampleOnce).then(() => {
        paused = true;
      });
      return inFlight;
    },
    resume() {
      if (!started || !paused || stopped !== undefined) return Promise.resolve();
      // This sample still carries `paused`: it moves past the suspension without billing it.
      inFlight = inFlight.then(sampleOnce).then(() => {
        paused = false;
      });
      return inFlight;
    },
    endClock() {
      clockEnd ??= mono();
    },
    stop() {
      stopped ??= (async () => {
        clearTimeout(timer);
        if (!started) return totals();
        await inFlight;
        await sampleOnce();
        return totals();
      })();
      return stopped;
    },
    totals,
  };
}
