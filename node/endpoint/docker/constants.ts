/** Labels on every replica container and network, beside the node's `gridspot.node`. */
export const ENDPOINT_LABEL = "gridspot.endpoint";
export const REPLICA_LABEL = "gridspot.replica";
/** Each replica's network is named after it. */
export const REPLICA_NETWORK_PREFIX = "gridspot-replica-";
/** Defaults of a replica container: the port it serves on inside, and its limits. */
export const DEFAULT_REPLICA_PORT = 8000;
export const DEFAULT_REPLICA_CPU_CORES = 1;
export const DEFAULT_REPLICA_MEM_MIB = 1024;
export const DEFAULT_REPLICA_PIDS = 512;
export const DEFAULT_REPLICA_TMPFS_MIB = 64;
