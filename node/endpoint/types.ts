import type { Agent } from "node:http";

/** Where a replica serves HTTP: reachable by the provider's proxy (and, with Docker, nothing else). */
export type ReplicaAddress = { host: string; port: number };

/** A replica's process or container, running (not necessarily healthy yet). */
export interface ReplicaInstance {
  readonly id: string;
  readonly address: ReplicaAddress;
  /** Settles, in words, once the replica's process or container is gone (never rejects). */
  readonly exited: Promise<string>;
  /** Stops it (polite stop, then kill after a grace period) and removes what it left. Never rejects. */
  stop(): Promise<void>;
}

/** Starts replicas of one endpoint's image or command. */
export interface ReplicaLauncher {
  /** `docker`: a locked-down container on its own network; `process`: a plain local process. */
  readonly kind: "docker" | "process";
  /**
   * Starts one replica, resolving once it runs.
   * @throws EndpointError `replica-failed` when it cannot be started.
   */
  start(options: { replicaId: string; signal: AbortSignal }): Promise<ReplicaInstance>;
}

/** A request's hold on a replica: it counts as in flight there until `release()`. */
export type ReplicaLease = {
  replicaId: string;
  address: ReplicaAddress;
  /** Keep-alive connections to this replica. */
  agent: Agent;
  release(): void;
};

/** One replica as the set sees it. */
export type ReplicaStatus = {
  id: string;
  state: "starting" | "ready" | "stopping";
  address: ReplicaAddress | null;
  inFlight: number;
};
