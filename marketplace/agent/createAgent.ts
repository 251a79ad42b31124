import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { LocalAccount } from "viem";
import { createSubmitter, type SubmitterSettings } from "../client/createSubmitter.ts";
import type { JobSession } from "../client/runJobSession.ts";
import { storedAgreement } from "../client/storedAgreement.ts";
import { placeJob } from "../client/submitJob.ts";
import { listDetachedRunningJobs } from "../client/submitterStore.ts";
import { DEFAULT_GATEWAY_PORT } from "../endpoint/constants.ts";
import type { Logger } from "../log/createLogger.ts";
import { jobSpec } from "../messages/job.ts";
import { maxUsage } from "../messages/order.ts";
import type { AgentStatusAnswer, AgentSubmitAnswer, AgentSubmitRequest } from "./agentRequests.ts";
import { attachState } from "./attachState.ts";
import { createEndpoints } from "./createEndpoints.ts";
import type { AgentDeployRequest } from "./endpointRequests.ts";
import { type SupervisedJob, superviseJob } from "./superviseJob.ts";

/** How long the agent waits for a provider's redeem transaction after a job ends (for `job status`). */
const REDEEM_WAIT_MS = 30_000;
/** How long `stop` waits for the jobs to drop their streams before it stops the host under them. */
const STOP_WAIT_MS = 5_000;

export type Agent = Awaited<ReturnType<typeof createAgent>>;

/**
 * The payer agent (issue 11 §1): holds the unlocked wallet and the libp2p host, places and runs the
 * submitter's detached jobs (answers their debit notes within each job's budget and the spend policy,
 * keeps their logs and outputs in the data dir), and on start attaches again to every detached job
 * the store says is still running: after `agent stop`, a crash or a SIGKILL, nothing is lost.
 */
export async function createAgent(p: {
  settings: SubmitterSettings;
  account: LocalAccount;
  logger: Logger;
  /** Where the endpoint gateway listens on 127.0.0.1 (DEFAULT_GATEWAY_PORT; 0 picks a free port). */
  gatewayPort?: number | undefined;
}) {
  const { logger } = p;
  const submitter = await createSubmitter(p.settings, p.account);
  const { host } = await submitter.network();
  const stopping = new AbortController();
  const jobs = new Map<string, SupervisedJob>();
  const startedAt = Date.now();
  const outputDir = join(p.settings.dataDir, "outputs");

  const supervise = (
    session: Parameters<typeof superviseJob>[1],
    extra: Pick<Parameters<typeof superviseJob>[2], "observe" | "onNote" | "onEnded"> = {},
  ) => {
    const job = superviseJob(submitter, session, {
      stopping: stopping.signal,
      logger,
      redeemWaitMs: REDEEM_WAIT_MS,
      ...extra,
    });
    jobs.set(session.jobId, job);
    void job.done
      .catch((error: Error) =>
        logger.error("job supervision failed", { jobId: session.jobId, error: error.message }),
      )
      .finally(() => jobs.delete(session.jobId));
    return job;
  };
  const endpoints = await createEndpoints(
    { submitter, host, logger, supervise },
    { gatewayPort: p.gatewayPort ?? DEFAULT_GATEWAY_PORT },
  );

  // Every detached job still running when the last agent went away: attach again.
  for (const job of listDetachedRunningJobs(submitter.store)) {
    try {
      const { agreement, signatures } = storedAgreement(job.jobId, job.agreement);
      const session: JobSession = {
        jobId: job.jobId,
        agreement,
        signatures,
        providerAddrs: job.providerAddrs,
        channelId: job.channelId,
        channelBase: job.channelBase,
        budget: job.budget,
        maxUsage: maxUsage.parse(job.maxUsage),
        spec: jobSpec.parse(JSON.parse(job.spec)),
        inputs: [],
        outputDir: job.outputsDir ?? outputDir,
        attach: attachState(submitter.store, job.jobId),
      };
      if (job.endpointId === null) supervise(session);
      else endpoints.resume(job.endpointId, session);
      logger.info("attaching again to a running job", { jobId: job.jobId, provider: job.provider });
    } catch (error) {
      logger.error("cannot resume job", { jobId: job.jobId, error: (error as Error).message });
    }
  }

  return {
    submitter,
    endpoints,
    /** Deploys an endpoint (one job per provider) and routes it through the gateway. */
    deploy: (request: AgentDeployRequest) => endpoints.deploy(request, outputDir),
    /** Places the job (auction, agreement, channel) and runs it here; answers once it is placed. */
    async submit(request: AgentSubmitRequest): Promise<AgentSubmitAnswer> {
      const placed = await placeJob(submitter, {
        requirements: request.requirements,
        maxRates: request.maxRates,
        maxUsage: request.maxUsage,
        budget: request.budget,
        expectedDurationMs: request.expectedDurationMs,
        spec: request.spec,
        inputs: request.inputs.map(({ executable, ...file }) => ({
          ...file,
          ...(executable === true ? { executable } : {}),
        })),
        outputDir,
        bidWindowMs: request.bidWindowMs,
        explain: request.explain,
        maxSuspendedS: request.maxSuspendedS,
        detached: true,
        events: { onProgress: (message) => logger.info(message) },
      });
      supervise(placed.session);
      const { session } = placed;
      return {
        jobId: session.jobId,
        status: "running",
        provider: session.agreement.provider,
        gpuClass: session.agreement.gpuClass ?? null,
        channelId: session.channelId,
        budget: session.budget,
        bids: placed.bids,
        explanation: placed.explanation.text,
      };
    },
    /** Cancels a job this agent runs; false when it runs no such job. */
    cancel(jobId: string, reason: string): boolean {
      const job = jobs.get(jobId);
      if (job === undefined) return false;
      job.cancel(reason);
      return true;
    },
    status(): AgentStatusAnswer {
      return {
        running: true,
        pid: process.pid,
        startedAt,
        address: submitter.account.address,
        peerId: host.peerId.toString(),
        jobs: [...jobs.keys()],
        gatewayUrl: endpoints.url,
      };
    },
    /**
     * Stops without ending any job: the streams close, each job stays `running` in the store and
     * suspended on its provider (after the grace period) until the next agent attaches again.
     */
    async stop(): Promise<void> {
      stopping.abort();
      await endpoints.stop();
      // Each job drops its stream at the signal; the host stops after them, in `submitter.close`
      // (the offer feed and bid collector first: they are the host's pubsub's users).
      await Promise.race([Promise.allSettled([...jobs.values()].map((j) => j.done)), sleep(STOP_WAIT_MS)]);
      await submitter.close();
    },
  };
}
