import { AgentAnswerError, agentRequest } from "../../agent/agentClient.ts";
import {
  type AgentEndpointAnswer,
  agentDeleteAnswer,
  agentEndpointAnswer,
  agentEndpointListAnswer,
  type EndpointJobView,
} from "../../agent/endpointRequests.ts";
import { listEndpointJobs, type SubmitterJob } from "../../client/submitterStore.ts";
import { UsageError } from "../../errors/usage.ts";
import { formatDuration, formatGrid, formatTable } from "../format.ts";
import type { GlobalOptions } from "../globalOptions.ts";
import { type EndpointDeployFlags, endpointDeployRequest } from "./endpointDeployRequest.ts";
import { jobLogs, openLocalStore, SUBMIT_TIMEOUT_MS } from "./jobDetached.ts";
import type { CommandResult } from "./types.ts";

// `gridspot endpoint …`: a thin client of the payer agent's control socket, which places the
// endpoint's jobs, runs the gateway and checks every note against what the gateway counted
// (marketplace/agent/createEndpoints.ts). `logs` and `verify` read the data dir, agent or not.

/** How long one `GET`/`DELETE` may take in the agent. */
const READ_TIMEOUT_MS = 10_000;

/** `endpoint deploy [flags] -- COMMAND [ARGS]`: the agent places it; its id and URL come back. */
export async function endpointDeploy(
  options: GlobalOptions,
  flags: EndpointDeployFlags,
  p: { operands: string[]; command: string[] },
): Promise<CommandResult> {
  const request = endpointDeployRequest(flags, p);
  const answer = await agentRequest(options.dataDir, {
    method: "POST",
    path: "/v1/endpoints",
    body: JSON.parse(JSON.stringify(request, (_k, v) => (typeof v === "bigint" ? v.toString() : v))),
    schema: agentEndpointAnswer,
    // One placement after another: a bid window and a channel's transactions each.
    timeoutMs: SUBMIT_TIMEOUT_MS * request.providers,
  });
  const placed = answer.jobs.length;
  return {
    json: answer,
    text: [
      `Endpoint ${answer.endpointId} ${answer.status} at ${urlOf(answer)}`,
      `  replicas ${answer.minReplicas}..${answer.maxReplicas} per provider, budget ${formatGrid(request.budget)} in all`,
      ...answer.jobs.map(
        (j) =>
          `  provider ${j.provider}: job ${j.jobId}, budget ${formatGrid(j.budget)}, channel ${j.channelId}`,
      ),
      ...(placed < request.providers
        ? [`  placed with ${placed} of the ${request.providers} providers asked (the agent's log says why)`]
        : []),
      `  curl ${urlOf(answer)}…             gridspot endpoint status ${answer.endpointId}`,
      `  gridspot endpoint logs ${answer.endpointId} --follow   gridspot endpoint delete ${answer.endpointId}`,
    ].join("\n"),
  };
}

/** `endpoint list`: one line per endpoint deployed from this data dir. */
export async function endpointList(options: GlobalOptions): Promise<CommandResult> {
  const { endpoints } = await agentRequest(options.dataDir, {
    method: "GET",
    path: "/v1/endpoints",
    schema: agentEndpointListAnswer,
    timeoutMs: READ_TIMEOUT_MS,
  });
  const text =
    endpoints.length === 0
      ? "No endpoints yet (gridspot endpoint deploy)."
      : formatTable([
          ["ENDPOINT", "STATUS", "PROVIDERS", "REQUESTS", "TOKENS", "SIGNED", "URL"],
          ...endpoints.map((e) => [
            e.endpointId,
            e.status,
            `${e.jobs.filter((j) => j.routed).length}/${e.jobs.length} routed`,
            String(e.gateway.requests),
            String(e.gateway.tokens),
            formatGrid(signed(e)),
            urlOf(e),
          ]),
        ]);
  return { json: { endpoints }, text };
}

/**
 * `endpoint status ID`: what the gateway counted, and per job its provider, status, the amount signed,
 * what the provider billed beside what the gateway counted, and whether it is routed (and why not).
 */
export async function endpointStatus(
  options: GlobalOptions,
  p: { endpointId: string | undefined },
): Promise<CommandResult> {
  const answer = await getEndpoint(options, p.endpointId);
  const g = answer.gateway;
  return {
    json: answer,
    text: [
      `Endpoint ${answer.endpointId}: ${answer.status} at ${urlOf(answer)}`,
      `Image    ${answer.image ?? "(a plain command)"}, replicas ${answer.minReplicas}..${answer.maxReplicas} per provider`,
      `Gateway  counted ${g.requests} request(s), ${g.tokens} token(s), ${formatDuration(g.busyMs)} busy; ${g.inFlight} in flight`,
      `Signed   ${formatGrid(signed(answer))} of ${formatGrid(answer.jobs.reduce((s, j) => s + j.budget, 0n))}`,
      ...(answer.closed === null ? [] : [`Closed   ${answer.closed}`]),
      ...answer.jobs.flatMap(jobLines),
    ].join("\n"),
    exitCode: 0,
  };
}

/** Two lines for one provider's job: who, how far, and billed (its last accepted note) vs counted. */
function jobLines(j: EndpointJobView): string[] {
  const busy = j.billed.gpu_ms ?? j.billed.cpu_core_ms;
  const busyMeter = j.billed.gpu_ms !== undefined ? "GPU" : "core";
  return [
    `Job ${j.jobId} ${j.status} on ${j.provider}: signed ${formatGrid(j.amount)} of ${formatGrid(j.budget)}, ${j.routed ? "routed" : `not routed (${j.reason || "ended"})`}`,
    `  billed / counted: requests ${j.billed.requests ?? 0n} / ${j.counted.requests}, tokens ${j.billed.tokens ?? 0n} / ${j.counted.tokens}, busy ${busy === undefined ? "-" : `${formatDuration(busy)} ${busyMeter}`} / ${formatDuration(j.counted.busyMs)}`,
  ];
}

/** `endpoint delete ID`: the agent tells each provider serving it to stop; each bills up to the stop. */
export async function endpointDelete(
  options: GlobalOptions,
  p: { endpointId: string | undefined },
): Promise<CommandResult> {
  const id = requireId(p.endpointId);
  const answer = await notFoundInWords(
    agentRequest(options.dataDir, {
      method: "DELETE",
      path: `/v1/endpoints/${encodeURIComponent(id)}`,
      schema: agentDeleteAnswer,
      timeoutMs: READ_TIMEOUT_MS,
    }),
  );
  return {
    json: { endpointId: id, ...answer },
    text:
      answer.jobs === 0
        ? `Endpoint ${id} deleted: none of its providers was still serving it.`
        : `Endpoint ${id} deleted: ${answer.jobs} provider(s) told to stop; each bills up to the stop in its final note (gridspot endpoint status ${id}).`,
  };
}

/** `endpoint logs ID [--follow]`: `job logs` for each of its jobs (all at once with --follow). */
export async function endpointLogs(
  options: GlobalOptions,
  p: { endpointId: string | undefined; follow: boolean },
): Promise<CommandResult> {
  const jobs = localEndpointJobs(options, p.endpointId);
  const results = [];
  if (p.follow) {
    for (const job of jobs) process.stderr.write(`gridspot: following job ${job.jobId} on ${job.provider}\n`);
    results.push(...(await Promise.all(jobs.map((j) => jobLogs(options, { jobId: j.jobId, follow: true })))));
  } else {
    for (const job of jobs) {
      process.stderr.write(`==> job ${job.jobId} on ${job.provider} (${job.status}) <==\n`);
      results.push(await jobLogs(options, { jobId: job.jobId, follow: false }));
    }
  }
  return { json: { endpointId: p.endpointId, jobs: results.map((r) => r.json) }, text: "" };
}

/** `endpoint verify ID`: `job verify` for each of its jobs; exit 1 when a check of any fails. */
export async function endpointVerify(
  options: GlobalOptions,
  p: { endpointId: string | undefined },
): Promise<CommandResult> {
  const id = requireId(p.endpointId);
  // Loaded only here: the submitter brings the chain (and libp2p), which list and status do not need.
  const { open, verifyLines } = await import("./job.ts");
  const { verifyJob } = await import("../../client/verifyJob.ts");
  const submitter = await open(options);
  try {
    const jobs = listEndpointJobs(submitter.store, id);
    if (jobs.length === 0) throw noEndpoint(id, submitter.store.path);
    const results = [];
    for (const job of jobs) results.push(await verifyJob(submitter, job.jobId));
    const failed = results.filter((r) => !r.ok);
    const checks = results.reduce((n, r) => n + r.checks.length, 0);
    return {
      json: { endpointId: id, ok: failed.length === 0, jobs: results },
      text: [
        ...results.flatMap((r) => verifyLines(r)),
        failed.length === 0
          ? `Endpoint ${id}: all ${checks} checks of its ${results.length} job(s) passed.`
          : `Endpoint ${id}: ${failed.length} of its ${results.length} job(s) failed a check (${failed.map((r) => r.jobId).join(", ")}).`,
      ].join("\n"),
      exitCode: failed.length === 0 ? 0 : 1,
    };
  } finally {
    await submitter.close();
  }
}

/** The endpoint's URL on the gateway, with the slash its paths follow. */
function urlOf(e: AgentEndpointAnswer): string {
  return e.url.endsWith("/") ? e.url : `${e.url}/`;
}

function signed(e: AgentEndpointAnswer): bigint {
  return e.jobs.reduce((s, j) => s + j.amount, 0n);
}

function requireId(id: string | undefined): string {
  if (id === undefined || id === "")
    throw new UsageError("Give an endpoint id (see `gridspot endpoint list`)");
  return id;
}

function noEndpoint(id: string, where: string): UsageError {
  return new UsageError(`No endpoint ${id} was deployed from ${where}`, {
    metaMessages: ["`gridspot endpoint list` shows the endpoints."],
  });
}

/** The agent's 404 for an endpoint id, as a usage error in words. */
async function notFoundInWords<T>(answer: Promise<T>): Promise<T> {
  return answer.catch((error: unknown) => {
    if (error instanceof AgentAnswerError && error.name === "not-found")
      throw new UsageError(error.shortMessage, {
        metaMessages: ["`gridspot endpoint list` shows the endpoints."],
      });
    throw error;
  });
}

async function getEndpoint(options: GlobalOptions, endpointId: string | undefined) {
  const id = requireId(endpointId);
  return notFoundInWords(
    agentRequest(options.dataDir, {
      method: "GET",
      path: `/v1/endpoints/${encodeURIComponent(id)}`,
      schema: agentEndpointAnswer,
      timeoutMs: READ_TIMEOUT_MS,
    }),
  );
}

/** The endpoint's jobs from the data dir's store (no agent needed). */
function localEndpointJobs(options: GlobalOptions, endpointId: string | undefined): SubmitterJob[] {
  const id = requireId(endpointId);
  const store = openLocalStore(options);
  try {
    const jobs = listEndpointJobs(store, id);
    if (jobs.length === 0) throw noEndpoint(id, store.path);
    return jobs;
  } finally {
    store.close();
  }
}
