/** The uid and gid jobs run as by default: `nobody`, which owns no files and no other process. */
export const DEFAULT_JOB_UID = 65534;
export const DEFAULT_JOB_GID = 65534;

/** Where cgroup hierarchies are mounted. */
export const DEFAULT_CGROUP_ROOT = "/sys/fs/cgroup";

/** The folder under each cgroup hierarchy (v1: under each controller) that holds one cgroup per job. */
export const CGROUP_PARENT = "gridspot";

/** The cgroup v1 controllers a job cgroup needs; `freezer` is used when mounted, else signals. */
export const CGROUP_V1_CONTROLLERS = ["memory", "cpu", "cpuacct", "pids"] as const;

/** The cgroup v2 controllers enabled for job cgroups. */
export const CGROUP_V2_CONTROLLERS = ["memory", "cpu", "pids"] as const;

/** CFS period for cpu.max / cpu.cfs_period_us, µs. */
export const CPU_PERIOD_US = 100_000;

/** Smallest CFS quota the kernel accepts, µs. */
export const MIN_CPU_QUOTA_US = 1_000;

/**
 * Processes bubblewrap itself keeps in the job's cgroup (its monitor and the sandbox's pid 1): added
 * to `pids.max` so that the job gets the number of processes and threads it was sold.
 */
export const SANDBOX_PIDS_OVERHEAD = 2;

/** How often a running job's cgroup counters (OOM kills, pids limit hits) or usage are checked. */
export const LIMIT_POLL_MS = 200;

/** How often the work dir is measured against the disk quota. */
export const DISK_POLL_MS = 500;

/** How long killing every process of a job may take before the runtime gives up on stragglers. */
export const KILL_ALL_TIMEOUT_MS = 5_000;

/** How long a freeze may take to settle (v1 FREEZING → FROZEN, v2 cgroup.events frozen 1). */
export const FREEZE_TIMEOUT_MS = 1_000;

/**
 * Virtual memory allowed above the memory limit when only rlimits are available (RLIMIT_AS counts
 * reserved address space: Node alone reserves over 1 GiB). Not applied to GPU jobs, whose drivers
 * reserve tens of GiB; the memory watchdog (Σ PSS) enforces the limit for them.
 */
export const RLIMIT_AS_HEADROOM_BYTES = 4 * 1024 ** 3;

/**
 * The sandbox's root-level folders: bound read-only, or recreated as the same symlink where the host
 * merged them into /usr. Missing ones are skipped.
 */
export const SANDBOX_ROOT_DIRS = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"] as const;

/**
 * What the sandbox's /etc holds from the host (read-only, missing ones skipped): the dynamic
 * loader's config, name service switch, time zone, CA certificates, alternatives. Never keys.
 */
export const SANDBOX_ETC_ENTRIES = [
  "/etc/ld.so.cache",
  "/etc/ld.so.conf",
  "/etc/ld.so.conf.d",
  "/etc/nsswitch.conf",
  "/etc/localtime",
  "/etc/ssl/certs",
  "/etc/ssl/openssl.cnf",
  "/etc/alternatives",
] as const;

/** Host folders a sandbox never shows, whatever a job names (sockets, homes, secrets). */
export const SANDBOX_FORBIDDEN_DIRS = [
  "/run",
  "/var/run",
  "/root",
  "/home",
  "/proc",
  "/sys",
  "/dev",
  "/etc",
] as const;

/** NVIDIA control devices a GPU job needs besides its own /dev/nvidia<minor>. */
export const NVIDIA_CONTROL_DEVICES = [
  "/dev/nvidiactl",
  "/dev/nvidia-uvm",
  "/dev/nvidia-uvm-tools",
  "/dev/nvidia-modeset",
] as const;

/** Where the NVIDIA driver lists its GPUs, one folder per PCI bus id with an `information` file. */
export const NVIDIA_PROC_GPUS = "/proc/driver/nvidia/gpus";

/** Hostname inside the sandbox. */
export const SANDBOX_HOSTNAME = "gridspot-job";

/** The environment of the root-owned stages that start a job (cgroup entry, rlimits, uid switch). */
export const WRAPPER_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } as const;

/**
 * Where a root daemon stages work dirs for bubblewrap (mode 0711): bubblewrap runs as the job uid
 * and resolves its sources as that uid, which cannot reach a work dir inside the 0700 data dir. Each
 * job gets an empty folder here, onto which its work dir is bind-mounted in a private mount
 * namespace that only the job's start sees.
 */
export const STAGING_ROOT = "/run/gridspot-jobs";

/** Exit code of the start wrapper when it cannot enter the job's cgroup or stage its work dir. */
export const CGROUP_ENTRY_FAILED_EXIT = 125;

export const BWRAP_PROBE_TIMEOUT_MS = 5_000;

/** Linux's O_CLOEXEC in /proc/<pid>/fdinfo flags (Node's fs.constants lacks it). */
export const O_CLOEXEC = 0o2000000;
