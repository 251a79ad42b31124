import { UsageError } from "../../errors/usage.ts";
import type { MaxUsage, Requirements } from "../../messages/order.ts";
import { gpuClass as gpuClassSchema, imageRef, type Rate } from "../../messages/primitives.ts";
import { HOUR_MS } from "../../rating/constants.ts";
import { parseDurationS, parseGrid, parsePositiveInt } from "../format.ts";

// The flags `job submit` and `endpoint deploy` share, parsed once for both: each takes the strings
// commander hands over and returns the order's values, or throws a UsageError in words.

/**
 * The job's command line, everything after `--`; `example` is a whole command that shows how, `what`
 * names it in the message.
 */
export function parseJobCommand(
  p: { operands: readonly string[]; command: readonly string[] },
  example: string,
  what = "the job's command",
): { command: string; args: string[] } {
  const [command, ...args] = p.command;
  if (command === undefined || command === "") {
    const shown = p.operands.length > 0 ? example.replace(/-- .*$/, `-- ${p.operands.join(" ")}`) : example;
    throw new UsageError(`Give ${what} after --, e.g. ${shown}`);
  }
  return { command, args };
}

/** `--image`: an image reference, checked with the order's own schema. */
export function parseImage(image: string | undefined): string | undefined {
  if (image !== undefined && !imageRef.safeParse(image).success)
    throw new UsageError(`--image must be an image reference like ghcr.io/acme/trainer:1.2, got "${image}"`);
  return image;
}

/** The flags that size what a job (or one replica of an endpoint) asks of a provider. */
export type RequirementFlags = {
  gpus?: string | undefined;
  gpuClass?: string | undefined;
  cpus?: string | undefined;
  mem?: string | undefined;
  maxDuration?: string | undefined;
};

/** `--gpus`, `--gpu-class`, `--cpus`, `--mem`, `--max-duration` (seconds) as the order's requirements. */
export function parseRequirements(
  flags: RequirementFlags,
  defaults: { maxDurationS: number } = { maxDurationS: 3600 },
): Requirements {
  const gpus = parsePositiveInt(flags.gpus, "--gpus", 0);
  const gpuClass = flags.gpuClass;
  if (gpuClass !== undefined && !gpuClassSchema.safeParse(gpuClass).success)
    throw new UsageError(`--gpu-class must look like nvidia-h100-80gb, got "${gpuClass}"`);
  return {
    gpus,
    ...(gpuClass === undefined ? {} : { gpuClass }),
    cpuCores: Math.max(1, parsePositiveInt(flags.cpus, "--cpus", 1)),
    memMiB: Math.max(1, parsePositiveInt(flags.mem, "--mem", 512)),
    maxDurationS: Math.max(1, parsePositiveInt(flags.maxDuration, "--max-duration", defaults.maxDurationS)),
  };
}

/** The price ceilings and the counted meters' usage ceilings. */
export type PriceFlags = {
  maxPriceGpuHour?: string | undefined;
  maxRequests?: string | undefined;
  maxPrice1kRequests?: string | undefined;
  maxTokens?: string | undefined;
  maxPrice1kTokens?: string | undefined;
  maxEgressGib?: string | undefined;
  maxPriceEgressGib?: string | undefined;
};

const GIB = 1024n ** 3n;

/**
 * `--max-price-gpu-hour`, and the counted meters' flag pairs: `--max-requests N` with
 * `--max-price-1k-requests GRID`, `--max-tokens N` with `--max-price-1k-tokens GRID`,
 * `--max-egress-gib N` with `--max-price-egress-gib GRID`. A counted meter is billed only with both
 * a price ceiling and a usage ceiling (the provider cannot bill a request, token or byte the order
 * did not bound; see marketplace/messages/order.ts). A ceiling without a price is a usage error (it
 * is never billed); so is a price without a ceiling, unless `defaultCeiling` gives one for it.
 */
export function parseMaxRates(
  flags: PriceFlags,
  o: { defaultCeiling?: (rate: Rate) => bigint } = {},
): { maxRates: Rate[]; maxUsage: MaxUsage | undefined } {
  const maxRates: Rate[] = [];
  if (flags.maxPriceGpuHour !== undefined)
    maxRates.push({
      meter: "gpu_ms",
      price: parseGrid(flags.maxPriceGpuHour, "--max-price-gpu-hour"),
      per: HOUR_MS,
    });
  const pairs = [
    {
      meter: "requests",
      count: flags.maxRequests,
      price: flags.maxPrice1kRequests,
      names: ["--max-requests", "--max-price-1k-requests"],
      per: 1000n,
      unit: 1n,
    },
    {
      meter: "tokens",
      count: flags.maxTokens,
      price: flags.maxPrice1kTokens,
      names: ["--max-tokens", "--max-price-1k-tokens"],
      per: 1000n,
      unit: 1n,
    },
    {
      meter: "egress_bytes",
      count: flags.maxEgressGib,
      price: flags.maxPriceEgressGib,
      names: ["--max-egress-gib", "--max-price-egress-gib"],
      per: GIB,
      unit: GIB,
    },
  ] as const;
  const maxUsage: MaxUsage = {};
  for (const pair of pairs) {
    const [countFlag, priceFlag] = pair.names;
    const ceilingMissing = pair.count === undefined && o.defaultCeiling === undefined;
    if (pair.price === undefined ? pair.count !== undefined : ceilingMissing)
      throw new UsageError(
        `${countFlag} and ${priceFlag} go together: the most to use, and the most to pay for it`,
      );
    if (pair.price === undefined) continue;
    const rate: Rate = { meter: pair.meter, price: parseGrid(pair.price, priceFlag), per: pair.per };
    maxRates.push(rate);
    maxUsage[pair.meter] =
      pair.count === undefined
        ? (o.defaultCeiling?.(rate) ?? 0n)
        : BigInt(parsePositiveInt(pair.count, countFlag, 0)) * pair.unit;
  }
  return { maxRates, maxUsage: Object.keys(maxUsage).length === 0 ? undefined : maxUsage };
}

/** `--env NAME=VALUE` (repeatable) as the spec's environment. */
export function parseEnv(pairs: readonly string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--env takes NAME=VALUE, got "${pair}"`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return env;
}

/** `--bid-window` in milliseconds (default 1500). */
export function parseBidWindowMs(text: string | undefined): number {
  return parsePositiveInt(text, "--bid-window", 1500);
}

/** `--max-suspended` (10m, 1h) in seconds; `fallback` when absent. */
export function parseMaxSuspendedS<T extends number | undefined>(
  text: string | undefined,
  fallback: T,
): number | T {
  return text === undefined ? fallback : parseDurationS(text, "--max-suspended");
}
