import {
  type AgentDeployRequest,
  agentDeployRequest,
  MAX_ENDPOINT_PROVIDERS,
} from "../../agent/endpointRequests.ts";
import { UsageError } from "../../errors/usage.ts";
import { MAX_ENDPOINT_REPLICAS } from "../../messages/endpoint.ts";
import { summarizeZodError } from "../../messages/envelope.ts";
import { requirements as requirementsSchema } from "../../messages/order.ts";
import type { Rate } from "../../messages/primitives.ts";
import { DEFAULT_ORDER_MAX_SUSPENDED_S } from "../../p2p/constants.ts";
import { parseDurationS, parseGrid, parsePositiveInt } from "../format.ts";
import {
  type PriceFlags,
  parseBidWindowMs,
  parseEnv,
  parseImage,
  parseJobCommand,
  parseMaxRates,
  parseMaxSuspendedS,
  parseRequirements,
  type RequirementFlags,
} from "./jobFlags.ts";

/** What `endpoint deploy` asks for when a flag is absent. */
export const ENDPOINT_DEFAULTS = {
  /** The port the image serves HTTP on (the provider's replica default, and the model server's). */
  port: 8000,
  minReplicas: 0,
  maxReplicas: 1,
  providers: 1,
  idleTimeoutS: 300,
  coldStartTimeoutS: 120,
  healthPath: "/health",
  /** An endpoint serves until deleted or its budget is spent: a day, the providers' default limit. */
  maxDurationS: 24 * 3600,
} as const;

/**
 * The usage ceiling of a counted meter (`requests`, `tokens`) priced without one: at least what the
 * whole budget buys at the price ceiling (so the budget, not the ceiling, ends an endpoint billed at
 * that price), and never under 10^9 (a provider bidding below the ceiling price is not cut off early).
 */
export const DEFAULT_COUNTED_CEILING = 10n ** 9n;

export function defaultCountedCeiling(budget: bigint, rate: Rate): bigint {
  const affordable = rate.price === 0n ? 0n : (budget * rate.per + rate.price - 1n) / rate.price;
  return affordable > DEFAULT_COUNTED_CEILING ? affordable : DEFAULT_COUNTED_CEILING;
}

/** The flags of `endpoint deploy`, as commander hands them over (strings, checked here). */
export type EndpointDeployFlags = RequirementFlags &
  Omit<PriceFlags, "maxEgressGib" | "maxPriceEgressGib"> & {
    image?: string | undefined;
    port?: string | undefined;
    minReplicas?: string | undefined;
    maxReplicas?: string | undefined;
    idleTimeout?: string | undefined;
    coldStartTimeout?: string | undefined;
    healthPath?: string | undefined;
    tokenHeader?: string | undefined;
    providers?: string | undefined;
    budget?: string | undefined;
    env?: string[] | undefined;
    bidWindow?: string | undefined;
    explain?: boolean | undefined;
    maxSuspended?: string | undefined;
  };

/**
 * `endpoint deploy [flags] -- COMMAND [ARGS]` as the agent's `POST /v1/endpoints` body; every flag
 * checked here, before the agent is asked, and the whole request against the agent's own schema.
 * @throws UsageError in words for a flag that is missing, malformed or out of range.
 */
export function endpointDeployRequest(
  flags: EndpointDeployFlags,
  p: { operands: readonly string[]; command: readonly string[] },
): AgentDeployRequest {
  const command = parseJobCommand(
    p,
    "gridspot endpoint deploy --image ghcr.io/acme/llm:1 --budget 10 -- serve --port 8000",
    "the replica's command (for an image: its arguments)",
  );
  const image = parseImage(flags.image);
  if (flags.budget === undefined)
    throw new UsageError(
      "--budget is required: the most the whole endpoint may cost, in GRID, split evenly between its providers",
    );
  const budget = parseGrid(flags.budget, "--budget");
  if (budget === 0n) throw new UsageError("--budget must be more than 0 GRID");
  const requirements = parseRequirements(flags, { maxDurationS: ENDPOINT_DEFAULTS.maxDurationS });
  const { maxRates, maxUsage } = parseMaxRates(flags, {
    defaultCeiling: (rate) => defaultCountedCeiling(budget, rate),
  });
  if (maxRates.length === 0)
    throw new UsageError(
      "Give at least one price ceiling: --max-price-gpu-hour, --max-price-1k-requests or --max-price-1k-tokens",
    );

  const minReplicas = parsePositiveInt(flags.minReplicas, "--min-replicas", ENDPOINT_DEFAULTS.minReplicas);
  const maxReplicas = parsePositiveInt(flags.maxReplicas, "--max-replicas", ENDPOINT_DEFAULTS.maxReplicas);
  if (maxReplicas < 1 || maxReplicas > MAX_ENDPOINT_REPLICAS)
    throw new UsageError(`--max-replicas must be from 1 to ${MAX_ENDPOINT_REPLICAS}, got ${maxReplicas}`);
  if (minReplicas > maxReplicas)
    throw new UsageError(
      `--min-replicas (${minReplicas}) cannot be more than --max-replicas (${maxReplicas})`,
    );
  // The agent orders one replica's resources × maxReplicas from each provider: that must be an order.
  const all = requirementsSchema.safeParse({
    ...requirements,
    gpus: requirements.gpus * maxReplicas,
    cpuCores: requirements.cpuCores * maxReplicas,
    memMiB: requirements.memMiB * maxReplicas,
  });
  if (!all.success)
    throw new UsageError(
      `--max-replicas ${maxReplicas} × one replica's --gpus, --cpus or --mem is more than one order may ask (${summarizeZodError(all.error)})`,
    );
  const providers = parsePositiveInt(flags.providers, "--providers", ENDPOINT_DEFAULTS.providers);
  if (providers < 1 || providers > MAX_ENDPOINT_PROVIDERS)
    throw new UsageError(`--providers must be from 1 to ${MAX_ENDPOINT_PROVIDERS}, got ${providers}`);

  const port = parsePositiveInt(flags.port, "--port", ENDPOINT_DEFAULTS.port);
  if (port < 1 || port > 65_535) throw new UsageError(`--port must be from 1 to 65535, got ${port}`);
  const idleTimeoutS =
    flags.idleTimeout === undefined
      ? ENDPOINT_DEFAULTS.idleTimeoutS
      : parseDurationS(flags.idleTimeout, "--idle-timeout");
  if (idleTimeoutS < 1 || idleTimeoutS > 86_400)
    throw new UsageError(`--idle-timeout must be from 1 s to 1 d, got "${flags.idleTimeout}"`);
  const coldStartTimeoutS =
    flags.coldStartTimeout === undefined
      ? ENDPOINT_DEFAULTS.coldStartTimeoutS
      : parseDurationS(flags.coldStartTimeout, "--cold-start-timeout");
  if (coldStartTimeoutS < 1 || coldStartTimeoutS > 3_600)
    throw new UsageError(`--cold-start-timeout must be from 1 s to 1 h, got "${flags.coldStartTimeout}"`);
  const healthPath = flags.healthPath ?? ENDPOINT_DEFAULTS.healthPath;
  if (!healthPath.startsWith("/"))
    throw new UsageError(`--health-path must be an absolute path such as /health, got "${healthPath}"`);

  const request = {
    requirements,
    minReplicas,
    maxReplicas,
    providers,
    maxRates,
    ...(maxUsage === undefined ? {} : { maxUsage }),
    budget,
    spec: {
      ...(image === undefined ? {} : { image }),
      command: command.command,
      args: command.args,
      env: parseEnv(flags.env),
      outputs: [],
      endpoint: {
        port,
        idleTimeoutS,
        coldStartTimeoutS,
        healthPath,
        ...(flags.tokenHeader === undefined ? {} : { tokenHeader: flags.tokenHeader }),
      },
    },
    bidWindowMs: parseBidWindowMs(flags.bidWindow),
    explain: flags.explain === true,
    maxSuspendedS: parseMaxSuspendedS(flags.maxSuspended, DEFAULT_ORDER_MAX_SUSPENDED_S),
  };
  // What the flags above do not check on their own (a header name, a path's characters, bounds).
  const checked = agentDeployRequest.safeParse(request);
  if (!checked.success) throw new UsageError(`Cannot deploy: ${flagNames(summarizeZodError(checked.error))}`);
  return checked.data;
}

/** The agent schema's field paths as the flags a person typed. */
const FLAG_OF: Record<string, string> = {
  "spec.endpoint.healthPath": "--health-path",
  "spec.endpoint.tokenHeader": "--token-header",
  "spec.endpoint.port": "--port",
  "spec.endpoint.idleTimeoutS": "--idle-timeout",
  "spec.endpoint.coldStartTimeoutS": "--cold-start-timeout",
  "spec.env": "--env",
  "spec.image": "--image",
  "spec.command": "the command after --",
  "spec.args": "the command's arguments after --",
  bidWindowMs: "--bid-window",
  maxSuspendedS: "--max-suspended",
  "requirements.maxDurationS": "--max-duration",
  "requirements.memMiB": "--mem",
  "requirements.cpuCores": "--cpus",
  "requirements.gpus": "--gpus",
};

function flagNames(summary: string): string {
  return summary
    .split("; ")
    .map((issue) => {
      const at = issue.indexOf(": ");
      const path = issue.slice(0, at);
      const known = Object.keys(FLAG_OF).find((p) => path === p || path.startsWith(`${p}.`));
      return known === undefined ? issue : `${FLAG_OF[known]}${issue.slice(at)}`;
    })
    .join("; ");
}
