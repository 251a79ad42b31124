import { z } from "zod";
import { inputEntry, jobSpec } from "../messages/job.ts";
import { maxUsage, requirements } from "../messages/order.ts";
import { rate, suspendedSeconds, uint } from "../messages/primitives.ts";
import { MAX_JOB_FILES } from "../p2p/constants.ts";

/**
 * `POST /v1/jobs` on the agent's socket: a job to place and run, as `job submit --detach` parsed it
 * (amounts as decimal strings). Inputs are read by the agent from the same paths, on the same machine.
 */
/** What every placement the agent makes takes (a job's, each of an endpoint's): its auction's terms. */
export const placementTerms = {
  maxRates: z.array(rate).max(16),
  maxUsage: maxUsage.optional(),
  bidWindowMs: z.number().int().min(100).max(60_000),
  explain: z.boolean(),
  maxSuspendedS: suspendedSeconds,
};

export const agentSubmitRequest = z.object({
  ...placementTerms,
  requirements,
  budget: uint.optional(),
  expectedDurationMs: uint.optional(),
  spec: jobSpec,
  inputs: z.array(inputEntry.extend({ source: z.string().min(1).max(4096) })).max(MAX_JOB_FILES),
});
export type AgentSubmitRequest = z.infer<typeof agentSubmitRequest>;

/** The agent's answer to a submit: the job runs (its agreement is signed, its channel funded). */
export const agentSubmitAnswer = z.object({
  jobId: z.string(),
  status: z.literal("running"),
  provider: z.string(),
  gpuClass: z.string().nullable(),
  channelId: uint,
  budget: uint,
  bids: z.number().int(),
  explanation: z.string(),
});
export type AgentSubmitAnswer = z.infer<typeof agentSubmitAnswer>;

/** An error the agent answers with: its class name (the CLI's exit code follows it) and its words. */
export const agentErrorAnswer = z.object({
  error: z.string(),
  message: z.string(),
  details: z.string().optional(),
});

export const agentStatusAnswer = z.object({
  running: z.literal(true),
  pid: z.number().int(),
  startedAt: z.number().int(),
  address: z.string(),
  peerId: z.string(),
  jobs: z.array(z.string()),
  /** Where the endpoint gateway listens (`http://127.0.0.1:8788`); null when it does not. */
  gatewayUrl: z.string().nullable(),
});
export type AgentStatusAnswer = z.infer<typeof agentStatusAnswer>;

/** `POST /v1/jobs/:id/cancel`: the agent told the provider to stop the job. */
export const agentCancelAnswer = z.object({ cancelled: z.literal(true) });
