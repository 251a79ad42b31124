import { z } from "zod";
import { endpointSpec, MAX_ENDPOINT_REPLICAS } from "../messages/endpoint.ts";
import { jobSpec } from "../messages/job.ts";
import { requirements } from "../messages/order.ts";
import { uint } from "../messages/primitives.ts";
import { placementTerms } from "./agentRequests.ts";

/** Providers one endpoint may be placed with (one agreement each). */
export const MAX_ENDPOINT_PROVIDERS = 8;

/**
 * `POST /v1/endpoints` on the agent's socket: an endpoint to deploy, as `endpoint deploy` parsed it.
 * `requirements` are one replica's; the agent orders them × `maxReplicas` from each provider.
 */
export const agentDeployRequest = z.object({
  ...placementTerms,
  requirements,
  minReplicas: z.number().int().min(0).max(MAX_ENDPOINT_REPLICAS),
  maxReplicas: z.number().int().min(1).max(MAX_ENDPOINT_REPLICAS),
  /** Providers to place it with, each serving up to `maxReplicas` replicas. */
  providers: z.number().int().min(1).max(MAX_ENDPOINT_PROVIDERS),
  /** The most the whole endpoint may cost: split evenly between its providers. */
  budget: uint,
  spec: jobSpec.extend({ endpoint: endpointSpec }),
});
export type AgentDeployRequest = z.infer<typeof agentDeployRequest>;

/** One provider's agreement for an endpoint, with what each side counted. */
export const endpointJobView = z.object({
  jobId: z.string(),
  provider: z.string(),
  providerPeerId: z.string(),
  status: z.string(),
  reason: z.string(),
  channelId: uint,
  budget: uint,
  /** Signed so far (the last accepted note's amount). */
  amount: uint,
  /** What the provider billed (its last accepted note), by meter. */
  billed: z.record(z.string(), uint),
  /** What the gateway counted for the requests it sent this provider. */
  counted: z.object({ requests: uint, tokens: uint, busyMs: uint }),
  /** Whether the gateway sends it requests (no when it ended or billed more than counted). */
  routed: z.boolean(),
});
export type EndpointJobView = z.infer<typeof endpointJobView>;

/** `GET /v1/endpoints/:id`, and each entry of `GET /v1/endpoints`. */
export const agentEndpointAnswer = z.object({
  endpointId: z.string(),
  /** `serving` while a provider runs it; `ended` once none does. */
  status: z.enum(["serving", "ended"]),
  url: z.string(),
  image: z.string().nullable(),
  minReplicas: z.number().int(),
  maxReplicas: z.number().int(),
  jobs: z.array(endpointJobView),
  /** What the gateway counted for the endpoint in all (this agent's run). */
  gateway: z.object({ requests: uint, tokens: uint, busyMs: uint, inFlight: z.number().int() }),
  /** Why it takes no requests, as callers are told (budget spent, deleted), when it does not. */
  closed: z.string().nullable(),
});
export type AgentEndpointAnswer = z.infer<typeof agentEndpointAnswer>;

export const agentEndpointListAnswer = z.object({ endpoints: z.array(agentEndpointAnswer) });

/** `DELETE /v1/endpoints/:id`: the agent told each provider to stop serving it. */
export const agentDeleteAnswer = z.object({ deleted: z.literal(true), jobs: z.number().int() });
