import type { Logger } from "../../marketplace/log/createLogger.ts";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import type { JobSpec } from "../../marketplace/messages/job.ts";
import { type ReplicaShare, replicaShare } from "../../marketplace/order/replicaShare.ts";
import type { UsageEvent, UsageSource } from "../meter/types.ts";
import { createRunClock } from "../run/createRunClock.ts";
import type { JobHandle } from "../run/runtime.ts";
import type { JobExit } from "../run/types.ts";
import { createEndpointMeter, type EndpointMeter } from "./createEndpointMeter.ts";
import type { EndpointProxy } from "./createEndpointProxy.ts";
import { createProcessReplicaLauncher } from "./createProcessReplicaLauncher.ts";
import { createReplicaSet } from "./createReplicaSet.ts";
import { EndpointError } from "./errors.ts";
import type { EndpointRuntime } from "./pickEndpointRuntime.ts";
import { teeLogger } from "./teeLogger.ts";
import type { ReplicaLauncher } from "./types.ts";
import { withGpuSlots } from "./withGpuSlots.ts";

/** How this node serves endpoints: its one proxy, and how it starts containers of an image. */
export type EndpointServing = {
  /** The node's proxy on its libp2p host (one per node). */
  proxy: EndpointProxy;
  /** Replicas of an image (absent where the node runs no Docker). */
  dockerLauncher?: ((p: DockerReplicaOptions) => ReplicaLauncher) | undefined;
  /** `endpoints.processReplicas`: plain commands may run as local processes (NOT isolated; development only). */
  processReplicas: boolean;
};

/** What the node's Docker launcher needs of one endpoint (the node adds its user, labels and limits). */
export type DockerReplicaOptions = {
  endpointId: string;
  image: string;
  spec: JobSpec & { endpoint: NonNullable<JobSpec["endpoint"]> };
  /** Each replica's share of the agreement. */
  share: ReplicaShare;
  /** The GPUs of one replica, by UUID. */
  gpuUuids: (replicaId: string) => readonly string[];
};

export type StartEndpointJobComponents = { serving: EndpointServing; logger: Logger };

export type StartEndpointJobParameters = {
  jobId: string;
  agreement: Agreement;
  spec: JobSpec;
  runtime: EndpointRuntime;
  /** The UUIDs of the GPUs reserved for the endpoint (a replica's share each). */
  gpuUuids: readonly string[];
  meterIntervalMs: number;
  /** Stores the meter's usage events. */
  onEvents: (events: UsageEvent[]) => void | Promise<void>;
  onMeterError: (error: unknown) => void;
  /** More usage the meter collects at each sample (the egress counter). */
  sources?: readonly UsageSource[] | undefined;
  /** The job's log: a line per replica starting, ready, stopping or failing; process replicas' stderr. */
  onStdout: (chunk: Buffer) => void;
  onStderr: (chunk: Buffer) => void;
};

/** The part of a runtime's `JobHandle` an endpoint has; `suspend` takes the reason its callers get. */
export type EndpointJobHandle = Pick<
  JobHandle,
  "id" | "startedAt" | "exited" | "cancel" | "resume" | "remove" | "suspended"
> & {
  readonly runtime: "docker" | "process";
  readonly sandbox: "docker" | "none";
  suspend(reason?: string): Promise<void>;
};

/**
 * Serves an endpoint agreement as a job (DESIGN §12): a replica set of the spec's image (Docker
 * containers, each with its share of the agreement's cores, memory and GPUs) or, with
 * `endpoints.processReplicas`, of its plain command (local processes, NOT isolated; `PORT` says
 * where to listen), served by the node's proxy to the agreement's payer only, and metered by
 * `createEndpointMeter`. The handle behaves as a job's: it ends when cancelled (the payer deleting
 * the endpoint, the payer closing the channel, the receipts watchdog) or after the agreement's
 * `maxDurationS` of time not suspended (reason `timeout`); then the replicas stop. Suspended, the
 * proxy answers its requests 402 in words and nothing is billed; the replicas keep running.
 * @throws EndpointError when the agreement is not an endpoint's or does not divide among its replicas.
 */
export function startEndpointJob(
  components: StartEndpointJobComponents,
  p: StartEndpointJobParameters,
): { handle: EndpointJobHandle; meter: EndpointMeter } {
  const { proxy } = components.serving;
  const { jobId, agreement, spec } = p;
  const terms = agreement.endpoint;
  const endpointSpec = spec.endpoint;
  if (terms === undefined || endpointSpec === undefined) {
    throw new EndpointError("bad-request", 400, `job ${jobId} is not an endpoint`);
  }
  const share = replicaShare(agreement, terms.maxReplicas);
  if (typeof share === "string") throw new EndpointError("bad-request", 400, share);
  const log = (text: string) => p.onStdout(Buffer.from(text));
  const logger = teeLogger(components.logger, log, ["endpoint"]);

  const launcher = makeLauncher(components.serving, p, { ...spec, endpoint: endpointSpec }, share);
  const replicas = createReplicaSet(
    { launcher, logger },
    {
      endpointId: jobId,
      min: terms.minReplicas,
      max: terms.maxReplicas,
      idleTimeoutMs: endpointSpec.idleTimeoutS * 1000,
      coldStartTimeoutMs: endpointSpec.coldStartTimeoutS * 1000,
      healthPath: endpointSpec.healthPath,
    },
  );
  const meter = createEndpointMeter({
    jobId,
    agreement,
    read: () => proxy.usage(jobId)?.total,
    intervalMs: p.meterIntervalMs,
    onEvents: p.onEvents,
    onError: p.onMeterError,
    sources: p.sources,
  });

  const startedAt = Date.now();
  proxy.addEndpoint({
    id: jobId,
    replicas,
    tokens:
      endpointSpec.tokenHeader === undefined
        ? { from: "usage" }
        : { from: "header", header: endpointSpec.tokenHeader },
    gpusPerReplica: BigInt(share.gpus),
    payerPeerId: agreement.submitterPeerId,
  });
  log(
    `endpoint served: ${terms.minReplicas}–${terms.maxReplicas} replicas of ${share.gpus} GPU(s), ${share.cpuCores} core(s), ${share.memMiB} MiB each (${launcher.kind})\n`,
  );

  let resolveExit: (exit: JobExit) => void = () => {};
  const exited = new Promise<JobExit>((resolve) => {
    resolveExit = resolve;
  });
  let ending: Promise<JobExit> | undefined;
  let suspended = false;
  const end = (reason: JobExit["reason"], detail: string): Promise<JobExit> => {
    ending ??= (async () => {
      clock.stop();
      meter.endClock();
      log(`endpoint stopping: ${detail}\n`);
      await proxy.removeEndpoint(jobId);
      const exit: JobExit = { reason, detail, exitCode: null, signal: null, startedAt, endedAt: Date.now() };
      resolveExit(exit);
      return exit;
    })();
    return ending;
  };
  const clock = createRunClock({
    maxDurationMs: agreement.maxDurationS * 1000,
    onTimeout: () => void end("timeout", `served its maximum duration of ${agreement.maxDurationS} s`),
    // The receipts watchdog ends a suspension that lasts too long.
    onSuspendedTimeout: () => {},
  });

  const handle: EndpointJobHandle = {
    id: jobId,
    runtime: launcher.kind,
    sandbox: launcher.kind === "docker" ? "docker" : "none",
    startedAt,
    exited,
    get suspended() {
      return suspended;
    },
    cancel: (message) => end("cancelled", message ?? "cancelled"),
    async suspend(reason) {
      if (ending !== undefined) return;
      suspended = true;
      proxy.suspendEndpoint(jobId, reason ?? "its payer's vouchers are late");
      clock.pause();
    },
    async resume() {
      suspended = false;
      proxy.resumeEndpoint(jobId);
      clock.resume();
    },
    // The replicas went with the endpoint: nothing of it stays on the host.
    remove: async () => {},
  };
  return { handle, meter };
}

/** Docker containers of the image the runtime picked; or, for a plain command, local processes. */
function makeLauncher(
  serving: EndpointServing,
  p: StartEndpointJobParameters,
  spec: DockerReplicaOptions["spec"],
  share: ReplicaShare,
): ReplicaLauncher {
  if (p.runtime.kind === "process") {
    return createProcessReplicaLauncher({
      command: spec.command,
      args: spec.args,
      env: spec.env,
      onStderr: (replicaId, line) => p.onStderr(Buffer.from(`[${replicaId}] ${line}\n`)),
    });
  }
  const { image } = p.runtime;
  const docker = serving.dockerLauncher;
  if (docker === undefined) {
    throw new EndpointError("replica-failed", 503, "this provider runs no Docker: it cannot serve an image");
  }
  const perReplica = share.gpus;
  const slots = Array.from({ length: p.agreement.endpoint?.maxReplicas ?? 1 }, (_, i) =>
    p.gpuUuids.slice(i * perReplica, (i + 1) * perReplica),
  );
  return withGpuSlots(slots, (gpuUuids) => docker({ endpointId: p.jobId, image, spec, share, gpuUuids }));
}
