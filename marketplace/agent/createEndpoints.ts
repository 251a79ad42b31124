import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { Submitter } from "../client/createSubmitter.ts";
import type { JobSession } from "../client/runJobSession.ts";
import { storedAgreement } from "../client/storedAgreement.ts";
import { placeJob } from "../client/submitJob.ts";
import {
  getSubmitterJob,
  listEndpointIds,
  listEndpointJobs,
  type SubmitterJob,
} from "../client/submitterStore.ts";
import { createGateway, type Gateway, type GatewayRoute } from "../endpoint/createGateway.ts";
import { observeNote } from "../endpoint/observeNote.ts";
import type { Logger } from "../log/createLogger.ts";
import { endpointSpec } from "../messages/endpoint.ts";
import { jobSpec } from "../messages/job.ts";
import type { GridspotHost } from "../p2p/createHost.ts";
import { ABOVE_OWN_COUNT } from "../receipt/verifyDebitNote.ts";
import type { AgentDeployRequest, AgentEndpointAnswer, EndpointJobView } from "./endpointRequests.ts";
import type { SupervisedJob, superviseJob } from "./superviseJob.ts";

type Supervise = (
  session: JobSession,
  extra: Pick<Parameters<typeof superviseJob>[2], "observe" | "onNote" | "onEnded">,
) => SupervisedJob;

export type EndpointsComponents = {
  submitter: Submitter;
  host: GridspotHost;
  logger: Logger;
  /** Runs one job to its end (the agent's `superviseJob` with its stop signal). */
  supervise: Supervise;
};

export type Endpoints = Awaited<ReturnType<typeof createEndpoints>>;

/** How long `deploy` waits for its providers to say the endpoint is served before it answers anyway. */
const START_WAIT_MS = 60_000;

const newEndpointId = () => `ep-${randomBytes(9).toString("base64url")}`;

/**
 * The payer agent's endpoints (DESIGN §12): `endpoint deploy` places one job per provider with the
 * endpoint's spec (each an agreement, a channel, notes and vouchers like any detached job), and the
 * gateway on 127.0.0.1 routes `/e/<endpoint>/…` to the providers whose jobs run. Every note is
 * checked against what the gateway counted for that provider (`observeNote`): a provider whose note
 * bills more is refused and gets no more requests. An endpoint whose providers all ended answers its
 * callers why (402 once its budget is spent).
 */
export async function createEndpoints(c: EndpointsComponents, o: { gatewayPort: number }) {
  const { submitter, logger } = c;
  const { store } = submitter;
  const gateway: Gateway = createGateway(
    { host: c.host, logger: logger.child("gateway") },
    { port: o.gatewayPort },
  );
  const { url } = await gateway.start();
  /** Jobs whose notes billed more than the gateway counted: never routed to again. */
  const distrusted = new Map<string, string>();
  const supervised = new Map<string, SupervisedJob>();

  const peerOf = (job: SubmitterJob) => storedAgreement(job.jobId, job.agreement).agreement.providerPeerId;

  /** Routes the endpoint to its running, trusted jobs' providers; says why when there are none. */
  const refreshRoute = (endpointId: string) => {
    const jobs = listEndpointJobs(store, endpointId);
    const serving = jobs.filter((j) => j.status === "running" && !distrusted.has(j.jobId));
    const first = jobs[0];
    if (first === undefined) return;
    const spec = endpointSpec.parse(jobSpec.parse(JSON.parse(first.spec)).endpoint);
    const route: GatewayRoute = {
      id: endpointId,
      providers: serving.map((j) => ({
        peerId: peerIdFromString(peerOf(j)),
        // Each provider serves it under its own agreement's job id.
        remoteId: j.jobId,
        addrs: j.providerAddrs.map((a) => multiaddr(a)),
      })),
      ...(spec.tokenHeader === undefined ? {} : { tokens: { from: "header", header: spec.tokenHeader } }),
      closed: closedReason(endpointId, jobs),
    };
    gateway.addEndpoint(route);
  };

  const closedReason = (endpointId: string, jobs: SubmitterJob[]): GatewayRoute["closed"] => {
    // A job that ended having signed its whole budget (the voucher for exactly the budget).
    const budgetSpent = jobs.find((j) => j.status !== "running" && j.amount >= j.budget);
    if (budgetSpent !== undefined)
      return {
        status: 402,
        code: "budget-reached",
        message: `endpoint ${endpointId} has spent its budget (${jobs.reduce((s, j) => s + j.budget, 0n)} base units): deploy it again with a new --budget`,
      };
    const refused = jobs.find((j) => distrusted.has(j.jobId));
    if (refused !== undefined && jobs.every((j) => j.status !== "running" || distrusted.has(j.jobId)))
      return {
        status: 502,
        code: "provider-distrusted",
        message: `endpoint ${endpointId}'s provider billed more than this gateway counted (${distrusted.get(refused.jobId)}): it gets no more requests`,
      };
    const cancelled = jobs.find((j) => j.reasonCode === "cancelled");
    if (cancelled !== undefined)
      return { status: 410, code: "endpoint-deleted", message: `endpoint ${endpointId} was deleted` };
    const last = jobs.at(-1);
    return {
      status: 503,
      code: "endpoint-ended",
      message: `endpoint ${endpointId} is not served: ${last?.reason || "its providers ended it"}`,
    };
  };

  /** Runs one provider's job of the endpoint, checking each note against the gateway's count. */
  const run = (endpointId: string, session: JobSession) => {
    const peer = session.agreement.providerPeerId;
    // Attached again after a restart: what was accepted before is the base of this gateway's count.
    const baseline = Object.fromEntries(
      (session.attach?.previous?.usage ?? []).map((u) => [u.meter, u.quantity]),
    );
    const job = c.supervise(session, {
      observe: async (note) => {
        const startedAt = getSubmitterJob(store, session.jobId)?.localStartedAt ?? Date.now();
        return observeNote({
          count: () => gateway.providerUsage(endpointId, peer),
          agreement: session.agreement,
          startedAt,
          note,
          baseline,
        });
      },
      onNote: (note, verdict) => {
        if (!verdict.includes(ABOVE_OWN_COUNT)) return;
        // Billed more than the gateway counted: not one more request goes there.
        distrusted.set(session.jobId, verdict);
        logger.warn("provider billed more than the gateway counted: no more requests to it", {
          endpointId,
          jobId: session.jobId,
          seq: note.seq,
          verdict,
        });
        refreshRoute(endpointId);
      },
      onEnded: () => refreshRoute(endpointId),
    });
    supervised.set(session.jobId, job);
    void job.done.finally(() => {
      supervised.delete(session.jobId);
      refreshRoute(endpointId);
    });
  };

  const view = (endpointId: string): AgentEndpointAnswer | undefined => {
    const jobs = listEndpointJobs(store, endpointId);
    const first = jobs[0];
    if (first === undefined) return undefined;
    const spec = jobSpec.parse(JSON.parse(first.spec));
    const terms = storedAgreement(first.jobId, first.agreement).agreement.endpoint;
    const total = gateway.usage(endpointId);
    const route = jobs.some((j) => j.status === "running" && !distrusted.has(j.jobId));
    const jobViews = jobs.map((j): EndpointJobView => {
      const peer = peerOf(j);
      const counted = gateway.providerUsage(endpointId, peer);
      return {
        jobId: j.jobId,
        provider: j.provider,
        providerPeerId: peer,
        status: j.status,
        reason: distrusted.get(j.jobId) ?? j.reason,
        channelId: j.channelId,
        budget: j.budget,
        amount: j.amount,
        billed: Object.fromEntries(Object.entries(j.usage).map(([k, v]) => [k, BigInt(v)])),
        counted: {
          requests: counted?.requests ?? 0n,
          tokens: counted?.tokens ?? 0n,
          busyMs: counted?.busyMs ?? 0n,
        },
        routed: j.status === "running" && !distrusted.has(j.jobId),
      };
    });
    const closed = route ? undefined : closedReason(endpointId, jobs);
    return {
      endpointId,
      status: jobs.some((j) => j.status === "running") ? "serving" : "ended",
      url: `${url}/e/${endpointId}`,
      image: spec.image ?? null,
      minReplicas: terms?.minReplicas ?? 0,
      maxReplicas: terms?.maxReplicas ?? 0,
      jobs: jobViews,
      gateway: {
        requests: total?.requests ?? 0n,
        tokens: total?.tokens ?? 0n,
        busyMs: total?.busyMs ?? 0n,
        inFlight: total?.inFlight ?? 0,
      },
      closed: closed === undefined ? null : `${closed.status} ${closed.code}: ${closed.message}`,
    };
  };

  return {
    url,
    /** Routes the endpoint of a job the agent attached to again after a restart, and checks its notes. */
    resume(endpointId: string, session: JobSession) {
      run(endpointId, session);
      refreshRoute(endpointId);
    },
    /**
     * Places the endpoint with `providers` providers, one after another (each bid from a provider
     * already serving it is passed over); answers once at least one serves it. The budget is split
     * evenly between them. A later placement that finds no provider ends the deploy with those placed.
     */
    async deploy(request: AgentDeployRequest, outputDir: string): Promise<AgentEndpointAnswer> {
      const endpointId = newEndpointId();
      const share = request.budget / BigInt(request.providers);
      const placedWith: string[] = [];
      const r = request.requirements;
      const n = request.maxReplicas;
      for (let i = 0; i < request.providers; i++) {
        try {
          const placed = await placeJob(submitter, {
            requirements: { ...r, gpus: r.gpus * n, cpuCores: r.cpuCores * n, memMiB: r.memMiB * n },
            maxRates: request.maxRates,
            maxUsage: request.maxUsage,
            budget: i === 0 ? request.budget - share * BigInt(request.providers - 1) : share,
            spec: request.spec,
            inputs: [],
            outputDir,
            bidWindowMs: request.bidWindowMs,
            explain: request.explain,
            maxSuspendedS: request.maxSuspendedS,
            detached: true,
            endpoint: {
              id: endpointId,
              minReplicas: request.minReplicas,
              maxReplicas: request.maxReplicas,
              exclude: placedWith,
            },
            events: { onProgress: (message) => logger.info(message, { endpointId }) },
          });
          placedWith.push(placed.session.agreement.provider);
          run(endpointId, placed.session);
          refreshRoute(endpointId);
        } catch (error) {
          if (placedWith.length === 0) throw error;
          logger.warn("endpoint placed with fewer providers than asked", {
            endpointId,
            placed: placedWith.length,
            asked: request.providers,
            error: (error as Error).message.split("\n")[0],
          });
          break;
        }
      }
      // Answered once every provider serves it (its `started`), so that the first request finds it.
      const deadline = Date.now() + START_WAIT_MS;
      const started = () =>
        listEndpointJobs(store, endpointId).every((j) => j.startedAt !== null || j.status !== "running");
      while (!started() && Date.now() < deadline) await sleep(25);
      return view(endpointId) as AgentEndpointAnswer;
    },
    view,
    list: (): AgentEndpointAnswer[] =>
      listEndpointIds(store).flatMap((id) => {
        const v = view(id);
        return v === undefined ? [] : [v];
      }),
    /** Tells each provider still serving the endpoint to stop; how many were told, undefined when unknown. */
    delete(endpointId: string, reason: string): number | undefined {
      const jobs = listEndpointJobs(store, endpointId);
      if (jobs.length === 0) return undefined;
      let told = 0;
      for (const j of jobs) {
        const job = supervised.get(j.jobId);
        if (job === undefined) continue;
        job.cancel(reason);
        told += 1;
      }
      return told;
    },
    stop: () => gateway.stop(),
  };
}
