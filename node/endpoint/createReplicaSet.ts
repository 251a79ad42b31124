import { Agent } from "node:http";
import { createLogger, type Logger } from "../../marketplace/log/createLogger.ts";
import {
  DEFAULT_COLD_START_TIMEOUT_MS,
  DEFAULT_HEALTH_PATH,
  DEFAULT_REPLICA_CONCURRENCY,
  DEFAULT_REPLICA_IDLE_TIMEOUT_MS,
  REPLICA_RESTART_BACKOFF_MAX_MS,
  REPLICA_RESTART_BACKOFF_MS,
} from "./constants.ts";
import { EndpointError } from "./errors.ts";
import type { ReplicaInstance, ReplicaLauncher, ReplicaLease, ReplicaStatus } from "./types.ts";
import { waitForHealthy } from "./waitForHealthy.ts";

export type ReplicaSetComponents = {
  launcher: ReplicaLauncher;
  /** Default `gridspot:node:endpoint:replicas` on stderr. */
  logger?: Logger | undefined;
};

export type CreateReplicaSetParameters = {
  endpointId: string;
  /** Replicas kept running even when idle (0: the endpoint scales to zero). */
  min: number;
  /** Replicas at most (what the agreement sold). */
  max: number;
  /** Requests one replica serves at once (default DEFAULT_REPLICA_CONCURRENCY). */
  concurrency?: number | undefined;
  /** Default DEFAULT_REPLICA_IDLE_TIMEOUT_MS. */
  idleTimeoutMs?: number | undefined;
  /** The longest a request waits for a replica (default DEFAULT_COLD_START_TIMEOUT_MS). */
  coldStartTimeoutMs?: number | undefined;
  /** How long a starting replica may take to become healthy (default: coldStartTimeoutMs). */
  startTimeoutMs?: number | undefined;
  /** Default DEFAULT_HEALTH_PATH. */
  healthPath?: string | undefined;
};

export type ReplicaSet = {
  readonly endpointId: string;
  readonly kind: ReplicaLauncher["kind"];
  /** Starts `min` replicas (in the background). */
  start(): void;
  /**
   * A replica for one request: the ready one with the fewest requests in flight, below its
   * concurrency; else the request queues (and the set scales up) until one is free or ready.
   * @throws EndpointError 503 `cold-start-timeout` (no replica became ready in time),
   *   `provider-busy` (all stayed busy), `replica-failed` (a start failed), `no-replica` (stopping).
   */
  acquire(options?: { signal?: AbortSignal | undefined }): Promise<ReplicaLease>;
  /** Stops every replica and fails what waits. */
  stop(): Promise<void>;
  status(): { replicas: ReplicaStatus[]; queued: number; lastError: string | null };
};

type Replica = {
  id: string;
  state: ReplicaStatus["state"];
  instance: ReplicaInstance | undefined;
  inFlight: number;
  agent: Agent | undefined;
  idleSince: number;
  idleTimer: NodeJS.Timeout | undefined;
  abort: AbortController;
};

type Waiter = {
  resolve(lease: ReplicaLease): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
  cleanup(): void;
};

/**
 * An endpoint's replicas on this provider (DESIGN §12). Replicas start through the launcher and
 * serve once their port passes the health check. The set scales by load — requests in flight plus
 * queued, over the per-replica concurrency — between `min` and `max`; a replica idle for
 * `idleTimeoutMs` stops while more than `min` run, so with `min` 0 the endpoint scales to zero and
 * the next request waits for a cold start: queued, never dropped, and answered 503 in words when
 * no replica is ready within `coldStartTimeoutMs`. A replica that exits is replaced as load needs;
 * one that fails to start fails the requests waiting for it at once (in words) and is retried
 * after a backoff.
 */
export function createReplicaSet(
  components: ReplicaSetComponents,
  parameters: CreateReplicaSetParameters,
): ReplicaSet {
  const { launcher } = components;
  const logger = components.logger ?? createLogger("gridspot:node:endpoint:replicas");
  const { endpointId } = parameters;
  const min = parameters.min;
  const max = parameters.max;
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || max < 1 || min > max) {
    throw new EndpointError(
      "bad-request",
      400,
      `replicas must satisfy 0 ≤ min ≤ max, max ≥ 1 (got min ${min}, max ${max})`,
    );
  }
  const concurrency = parameters.concurrency ?? DEFAULT_REPLICA_CONCURRENCY;
  const idleTimeoutMs = parameters.idleTimeoutMs ?? DEFAULT_REPLICA_IDLE_TIMEOUT_MS;
  const coldStartTimeoutMs = parameters.coldStartTimeoutMs ?? DEFAULT_COLD_START_TIMEOUT_MS;
  const startTimeoutMs = parameters.startTimeoutMs ?? coldStartTimeoutMs;
  const healthPath = parameters.healthPath ?? DEFAULT_HEALTH_PATH;

  const replicas: Replica[] = [];
  const queue: Waiter[] = [];
  let seq = 0;
  let stopped = false;
  let lastError: string | null = null;
  let failures = 0;
  let nextStartAt = 0;
  let retryTimer: NodeJS.Timeout | undefined;

  const active = () => replicas.filter((r) => r.state !== "stopping").length;

  const lease = (replica: Replica): ReplicaLease => {
    replica.inFlight += 1;
    let released = false;
    return {
      replicaId: replica.id,
      address: (replica.instance as ReplicaInstance).address,
      agent: replica.agent as Agent,
      release() {
        if (released) return;
        released = true;
        replica.inFlight -= 1;
        if (replica.inFlight === 0) replica.idleSince = Date.now();
        if (queue.length > 0) dispatch();
      },
    };
  };

  /** The ready replica with the fewest requests in flight, if one has room. */
  const pick = (): Replica | undefined => {
    let best: Replica | undefined;
    for (const replica of replicas) {
      if (replica.state !== "ready" || replica.inFlight >= concurrency) continue;
      if (best === undefined || replica.inFlight < best.inFlight) best = replica;
    }
    return best;
  };

  const dispatch = () => {
    while (queue.length > 0) {
      const replica = pick();
      if (replica === undefined) break;
      const waiter = queue.shift() as Waiter;
      waiter.cleanup();
      waiter.resolve(lease(replica));
    }
    scale();
  };

  const scale = () => {
    if (stopped) return;
    let load = queue.length;
    for (const replica of replicas) load += replica.inFlight;
    const desired = Math.min(max, Math.max(min, Math.ceil(load / concurrency)));
    const now = Date.now();
    if (active() < desired && now < nextStartAt) {
      if (retryTimer === undefined) {
        retryTimer = setTimeout(() => {
          retryTimer = undefined;
          scale();
        }, nextStartAt - now);
        retryTimer.unref();
      }
      return;
    }
    for (let count = active(); count < desired; count += 1) startReplica();
  };

  const failWaiters = (error: EndpointError) => {
    for (const waiter of queue.splice(0)) {
      waiter.cleanup();
      waiter.reject(error);
    }
  };

  const remove = (replica: Replica) => {
    const at = replicas.indexOf(replica);
    if (at >= 0) replicas.splice(at, 1);
    if (replica.idleTimer !== undefined) clearTimeout(replica.idleTimer);
    replica.agent?.destroy();
  };

  const armIdle = (replica: Replica, delayMs: number) => {
    if (!Number.isFinite(idleTimeoutMs)) return;
    replica.idleTimer = setTimeout(() => {
      if (replica.state !== "ready") return;
      const idleFor = Date.now() - replica.idleSince;
      if (replica.inFlight === 0 && queue.length === 0 && idleFor >= idleTimeoutMs && active() > min) {
        logger.info("replica idle, stopping", {
          endpoint: endpointId,
          replica: replica.id,
          idleMs: idleFor,
        });
        replica.state = "stopping";
        remove(replica);
        void replica.instance?.stop();
        return;
      }
      // Not idle long enough yet: check again when it would be. Busy, or kept for `min`: a timeout on.
      const early = replica.inFlight === 0 && idleFor < idleTimeoutMs;
      armIdle(replica, early ? idleTimeoutMs - idleFor : idleTimeoutMs);
    }, delayMs);
    replica.idleTimer.unref();
  };

  const startReplica = () => {
    seq += 1;
    const replica: Replica = {
      id: `${endpointId}-r${seq}`,
      state: "starting",
      instance: undefined,
      inFlight: 0,
      agent: undefined,
      idleSince: Date.now(),
      idleTimer: undefined,
      abort: new AbortController(),
    };
    replicas.push(replica);
    const startedAt = Date.now();
    logger.info("starting replica", { endpoint: endpointId, replica: replica.id, kind: launcher.kind });
    void (async () => {
      try {
        replica.instance = await launcher.start({ replicaId: replica.id, signal: replica.abort.signal });
        await waitForHealthy({
          address: replica.instance.address,
          path: healthPath,
          timeoutMs: startTimeoutMs,
          signal: replica.abort.signal,
          exited: replica.instance.exited,
        });
      } catch (error) {
        remove(replica);
        await replica.instance?.stop();
        if (stopped) return;
        const words =
          error instanceof EndpointError ? error.shortMessage : (error as Error).message.split("\n")[0];
        lastError = `replica ${replica.id} failed to start: ${words}`;
        failures += 1;
        nextStartAt =
          Date.now() +
          Math.min(REPLICA_RESTART_BACKOFF_MAX_MS, REPLICA_RESTART_BACKOFF_MS * 2 ** (failures - 1));
        logger.warn("replica failed to start", { endpoint: endpointId, replica: replica.id, error: words });
        if (!replicas.some((r) => r.state === "ready" || r.state === "starting")) {
          failWaiters(new EndpointError("replica-failed", 503, `endpoint ${endpointId}: ${lastError}`));
        }
        scale();
        return;
      }
      const instance = replica.instance;
      if (stopped || replica.state === "stopping") {
        await instance.stop();
        return;
      }
      failures = 0;
      replica.state = "ready";
      replica.agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
      replica.idleSince = Date.now();
      armIdle(replica, idleTimeoutMs);
      logger.info("replica ready", {
        endpoint: endpointId,
        replica: replica.id,
        ms: Date.now() - startedAt,
      });
      void instance.exited.then((reason) => {
        if (replica.state === "stopping" || stopped) return;
        replica.state = "stopping";
        remove(replica);
        lastError = `replica ${replica.id} ${reason}`;
        logger.warn("replica exited", { endpoint: endpointId, replica: replica.id, reason });
        scale();
      });
      dispatch();
    })();
  };

  const timeoutError = (): EndpointError => {
    const seconds = (coldStartTimeoutMs / 1000).toFixed(coldStartTimeoutMs < 10_000 ? 1 : 0);
    const ready = replicas.filter((r) => r.state === "ready").length;
    if (ready > 0) {
      return new EndpointError(
        "provider-busy",
        503,
        `all ${ready} replicas of endpoint ${endpointId} stayed busy for ${seconds} s`,
      );
    }
    return new EndpointError(
      "cold-start-timeout",
      503,
      `no replica of endpoint ${endpointId} became ready within ${seconds} s (cold start)${lastError === null ? "" : `; ${lastError}`}`,
    );
  };

  return {
    endpointId,
    kind: launcher.kind,
    start() {
      scale();
    },
    acquire(options = {}) {
      if (stopped) {
        return Promise.reject(new EndpointError("no-replica", 503, `endpoint ${endpointId} is stopping`));
      }
      if (queue.length === 0) {
        const replica = pick();
        if (replica !== undefined) {
          const held = lease(replica);
          if (replica.inFlight >= concurrency) scale();
          return Promise.resolve(held);
        }
      }
      return new Promise<ReplicaLease>((resolve, reject) => {
        const signal = options.signal;
        const onAbort = () => {
          const at = queue.indexOf(waiter);
          if (at >= 0) queue.splice(at, 1);
          waiter.cleanup();
          reject(signal?.reason);
        };
        const waiter: Waiter = {
          resolve,
          reject,
          timer: setTimeout(() => {
            const at = queue.indexOf(waiter);
            if (at >= 0) queue.splice(at, 1);
            waiter.cleanup();
            reject(timeoutError());
          }, coldStartTimeoutMs),
          cleanup() {
            clearTimeout(waiter.timer);
            signal?.removeEventListener("abort", onAbort);
          },
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        queue.push(waiter);
        scale();
      });
    },
    async stop() {
      stopped = true;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      failWaiters(new EndpointError("no-replica", 503, `endpoint ${endpointId} is stopping`));
      const all = replicas.splice(0);
      await Promise.all(
        all.map(async (replica) => {
          replica.state = "stopping";
          replica.abort.abort(new Error("stopping"));
          if (replica.idleTimer !== undefined) clearTimeout(replica.idleTimer);
          replica.agent?.destroy();
          await replica.instance?.stop();
        }),
      );
    },
    status: () => ({
      replicas: replicas.map((r) => ({
        id: r.id,
        state: r.state,
        address: r.instance?.address ?? null,
        inFlight: r.inFlight,
      })),
      queued: queue.length,
      lastError,
    }),
  };
}
