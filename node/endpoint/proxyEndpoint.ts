import type { TokenSource } from "../../marketplace/endpoint/createTokenCounter.ts";
import type { ReplicaSet } from "./createReplicaSet.ts";

/** An endpoint the proxy serves: its replicas and how its requests are limited and metered. */
export type ProxyEndpoint = {
  id: string;
  replicas: ReplicaSet;
  /** Where answers state their tokens (default: the response's `usage`); the gateway uses the same. */
  tokens?: TokenSource | undefined;
  /** GPUs each replica holds: a busy millisecond bills this many GPU-ms (default 1). */
  gpusPerReplica?: bigint | undefined;
  /** The only peer that may call it (the agreement's payer); anyone when absent (tests, demos). */
  payerPeerId?: string | undefined;
  /** Default HTTP_MAX_REQUEST_BODY_BYTES / HTTP_MAX_RESPONSE_BODY_BYTES. */
  maxRequestBodyBytes?: number | undefined;
  maxResponseBodyBytes?: number | undefined;
};
