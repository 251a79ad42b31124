import type { ImagePolicy } from "./imagePolicy.ts";

/** Where the Docker Engine listens on a Linux host. */
export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/** The job's user: `nobody:nogroup`. Never root. */
export const DEFAULT_DOCKER_USER = "65534:65534";

/** The operator's ceiling on a job's processes and threads (the job's own `pids` limit applies below it). */
export const DEFAULT_PIDS_LIMIT = 4_096;

/** Size of the job's `/tmp` and `/dev/shm` (memory, charged to the job's memory limit), MiB. */
export const DEFAULT_TMPFS_MIB = 64;

/** Where the job's work dir appears inside the container (its working directory). */
export const CONTAINER_WORK_DIR = "/work";

/** Labels on every job container: the provider's address and the job id. */
export const NODE_LABEL = "gridspot.node";
export const JOB_LABEL = "gridspot.job";

/** Any image already on the host; nothing is pulled. */
export const DEFAULT_IMAGE_POLICY: ImagePolicy = { pull: "never" };

/** How long `probeDocker` waits for the Engine's answer. */
export const DOCKER_PROBE_TIMEOUT_MS = 2_000;

/** Timeout of one short Engine call (inspect, create, kill, pause…); waits and attaches have none. */
export const DOCKER_CALL_TIMEOUT_MS = 30_000;

/** Timeout of an image pull (`pull: "missing"`). */
export const DOCKER_PULL_TIMEOUT_MS = 600_000;

/**
 * How often a running job's cgroup is read: the pids limit counter (a hit kills the job) and the
 * usage kept as its last reading (so the reading after exit is at most this old).
 */
export const CGROUP_POLL_MS = 250;

/** How often the work dir is measured against the disk quota. */
export const DISK_POLL_MS = 250;

/** Container log size kept by the Engine (json-file): output goes to the attached callbacks. */
export const CONTAINER_LOG_MAX_SIZE = "1m";

/** Signal numbers a container's exit status 128+n may stand for, when the runtime killed it. */
export const SIGNAL_EXIT_BASE = 128;
