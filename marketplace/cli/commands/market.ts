import { UsageError } from "../../errors/usage.ts";
import type { CapacityOffer } from "../../messages/offer.ts";
import type { Requirements } from "../../messages/order.ts";
import type { Granularity, Rate } from "../../messages/primitives.ts";
import { listOffers } from "../../offer/listOffers.ts";
import type { BookEntry } from "../../offer/offerBook.ts";
import { openMarketView } from "../../offer/openMarketView.ts";
import { priceStats } from "../../offer/priceStats.ts";
import { waitForOffers } from "../../offer/waitForOffers.ts";
import { estimateCost } from "../../order/estimateCost.ts";
import { quoteOrder } from "../../order/quoteOrder.ts";
import { HOUR_MS } from "../../rating/constants.ts";
import { checkBootstrap } from "../checkBootstrap.ts";
import {
  formatDuration,
  formatGranularity,
  formatGrid,
  formatTable,
  parseDurationS,
  parseGrid,
  parsePositiveInt,
} from "../format.ts";
import type { GlobalOptions } from "../globalOptions.ts";
import { createProgress } from "../progress.ts";
import type { CommandResult } from "./types.ts";

const GPU_CLASS = /^[a-z0-9]+-[a-z0-9]+-[0-9]+gb$/;
/** How long the market commands listen for offers by default, and at most. */
const DEFAULT_WAIT_MS = 3_000;
const MAX_WAIT_MS = 60_000;
/**
 * How long after the last peer connected the market commands keep listening: a provider publishes
 * its offer to a newcomer 250 ms after it joins the topic, and again 2 s later (node/offer).
 */
const PEER_SETTLE_MS = 3_000;

/** The flags of the market commands, as the parser hands them over. */
export type MarketFlags = {
  wait?: string | undefined;
  minOffers?: string | undefined;
  gpuClass?: string | undefined;
};

export type QuoteFlags = MarketFlags & {
  gpus?: string | undefined;
  cpus?: string | undefined;
  mem?: string | undefined;
  vram?: string | undefined;
  maxDuration?: string | undefined;
  expectedDuration?: string | undefined;
  maxPriceGpuHour?: string | undefined;
};

/** `market offers [--gpu-class C]`: every live offer, one line per provider and GPU class. */
export async function marketOffers(options: GlobalOptions, flags: MarketFlags): Promise<CommandResult> {
  const gpuClass = parseGpuClass(flags.gpuClass);
  const { entries, waitedMs, peers } = await collectOffers(options, flags);
  const rows = listOffers(entries, { gpuClass });
  const now = Date.now();
  const json = {
    waitedMs,
    peers,
    offers: rows.map((r) => ({ ...r, lastSeen: new Date(r.receivedAt).toISOString() })),
  };
  if (rows.length === 0) return { json, text: noOffersText(entries.length, gpuClass, peers) };
  const table = [
    [
      "PROVIDER",
      "CLASS",
      "GPUS FREE",
      "CORES FREE",
      "MEM FREE",
      "GPU-HOUR",
      "CORE-HOUR",
      "GIB-HOUR",
      "BILLED",
      "MINIMUM",
      "SEEN",
    ],
    ...rows.map((r) => [
      r.provider,
      r.gpuClass ?? "(cpu only)",
      r.gpuClass === null ? "-" : `${r.gpusFree}/${r.gpusTotal}`,
      `${r.cpuCoresFree}/${r.cpuCores}`,
      `${r.memMiBFree}/${r.memMiB} MiB`,
      money(r.gpuHour),
      money(r.cpuCoreHour),
      money(r.memGiBHour),
      formatGranularity(r.granularity),
      r.minimumCharge === null ? "-" : formatGrid(r.minimumCharge),
      `${Math.max(0, Math.round((now - r.receivedAt) / 1000))} s ago`,
    ]),
  ];
  return {
    json,
    text: `${formatTable(table)}\n${rows.length} offer(s) from ${peers} peer(s) reached. Prices in GRID per GPU-hour, core-hour and GiB-hour; time billed rounded up as BILLED says, at least MINIMUM a job.`,
  };
}

/** `market prices`: per GPU class, the min / median / max GPU-hour price and the free GPUs. */
export async function marketPrices(options: GlobalOptions, flags: MarketFlags): Promise<CommandResult> {
  const gpuClass = parseGpuClass(flags.gpuClass);
  const { entries, waitedMs, peers } = await collectOffers(options, flags);
  const classes = priceStats(entries).filter((c) => gpuClass === undefined || c.gpuClass === gpuClass);
  const json = { waitedMs, peers, offers: entries.length, classes };
  if (classes.length === 0) return { json, text: noOffersText(entries.length, gpuClass, peers) };
  const table = [
    ["CLASS", "PROVIDERS", "GPUS FREE", "MIN", "MEDIAN", "MAX"],
    ...classes.map((c) => [
      c.gpuClass,
      String(c.providers),
      `${c.freeGpus}/${c.totalGpus}`,
      money(c.min),
      money(c.median),
      money(c.max),
    ]),
  ];
  return {
    json,
    text: `${formatTable(table)}\nPrices in GRID per GPU-hour, from ${entries.length} live offer(s); ${peers} peer(s) reached.`,
  };
}

/**
 * `market quote --gpus N [...]`: what the order would pay now from the live offers, the cheapest
 * fitting offer's cost per hour and for the maximum duration, and how many providers could take it.
 */
export async function marketQuote(options: GlobalOptions, values: QuoteFlags): Promise<CommandResult> {
  const gpuClass = parseGpuClass(values.gpuClass);
  const gpus = parsePositiveInt(values.gpus, "--gpus", 0);
  const vram = values.vram === undefined ? undefined : parsePositiveInt(values.vram, "--vram", 0);
  const requirements: Requirements = {
    gpus,
    ...(gpuClass === undefined ? {} : { gpuClass }),
    ...(vram === undefined ? {} : { vramMiB: vram }),
    cpuCores: Math.max(1, parsePositiveInt(values.cpus, "--cpus", 1)),
    memMiB: Math.max(1, parsePositiveInt(values.mem, "--mem", 512)),
    maxDurationS: Math.max(1, parsePositiveInt(values.maxDuration, "--max-duration", 3600)),
  };
  if (gpus === 0 && gpuClass !== undefined) throw new UsageError("--gpu-class needs --gpus N (N ≥ 1)");
  const expectedS =
    values.expectedDuration === undefined
      ? undefined
      : parseDurationS(values.expectedDuration, "--expected-duration");
  if (expectedS !== undefined && expectedS > requirements.maxDurationS)
    throw new UsageError("--expected-duration cannot be longer than --max-duration");
  const expectedMs = expectedS === undefined ? undefined : BigInt(expectedS) * 1000n;
  const maxRates: Rate[] =
    values.maxPriceGpuHour === undefined
      ? []
      : [
          {
            meter: "gpu_ms",
            price: parseGrid(values.maxPriceGpuHour, "--max-price-gpu-hour"),
            per: HOUR_MS,
          },
        ];
  const { entries, waitedMs, peers } = await collectOffers(options, values);
  const quote = quoteOrder(entries, requirements, maxRates);
  // The cheapest offer's billing: time rounded up to its granularity, at least its minimum charge.
  const billing = entries.find(
    (e) => e.offer.provider.toLowerCase() === quote.cheapest?.provider.toLowerCase(),
  )?.offer;
  const granularity = billing?.granularity ?? "ms";
  const minimumCharge = billing?.minimumCharge ?? 0n;
  const expectedCost =
    expectedMs === undefined || quote.cheapest === null
      ? null
      : bigMax(estimateCost(quote.cheapest.rates, requirements, expectedMs, {}, granularity), minimumCharge);
  const json = {
    waitedMs,
    peers,
    expectedDurationS: expectedMs === undefined ? null : Number(expectedMs / 1000n),
    expectedCost,
    billing: { granularity, minimumCharge },
    endpoints: billing?.endpoints ?? null,
    requirements,
    maxRates,
    offers: quote.offers,
    providers: quote.providers,
    cheapest: quote.cheapest,
    best: quote.best.map((m) => ({
      provider: m.provider,
      gpuClass: m.gpuClass ?? null,
      hourlyCost: m.hourlyCost,
      rates: m.rates,
    })),
    misfits: quote.misfits,
  };
  const wanted = `${gpus > 0 ? `${gpus} × ${gpuClass ?? "any GPU"}, ` : ""}${requirements.cpuCores} core(s), ${requirements.memMiB} MiB for up to ${formatDuration(requirements.maxDurationS * 1000)}`;
  const why = quote.misfits.map((m) => `${m.count} ${m.reason}`).join(", ");
  if (quote.cheapest === null) {
    return {
      json,
      text: [
        `No live offer takes ${wanted}.`,
        quote.offers === 0 ? noOffersText(0, undefined, peers) : `${quote.offers} offer(s) seen: ${why}.`,
      ].join("\n"),
    };
  }
  const c = quote.cheapest;
  return {
    json,
    text: [
      `Quote for ${wanted}:`,
      `  cheapest   ${c.provider} (${c.gpuClass ?? "CPU only"}), billed ${formatGranularity(granularity)}${minimumCharge === 0n ? "" : `, at least ${formatGrid(minimumCharge)} a job`}`,
      `  per hour   ${formatGrid(c.hourlyCost)}`,
      `  for ${formatDuration(requirements.maxDurationS * 1000)} (the maximum, the default budget)  ${formatGrid(c.maxDurationCost)}`,
      ...(expectedCost === null
        ? []
        : [`  for ${formatDuration(expectedMs ?? 0n)} (expected)  ${formatGrid(expectedCost)}`]),
      `  endpoints  ${endpointTerms(billing?.endpoints, granularity)}`,
      `  providers  ${quote.providers} of ${quote.offers} could take it now${why === "" ? "" : ` (others: ${why})`}; ${peers} peer(s) reached`,
    ].join("\n"),
  };
}

/** Joins the market, listens for offers (bounded), and leaves; says how many peers it reached. */
async function collectOffers(
  options: GlobalOptions,
  flags: MarketFlags,
): Promise<{ entries: BookEntry[]; waitedMs: number; peers: number }> {
  const maxMs = parseWait(flags.wait);
  const minOffers =
    flags.minOffers === undefined ? undefined : parsePositiveInt(flags.minOffers, "--min-offers", 0);
  if (options.bootstrap.length === 0)
    throw new UsageError(
      "Give a peer to join the market through: --bootstrap MULTIADDR (or GRIDSPOT_BOOTSTRAP)",
    );
  const view = await openMarketView({
    rpcUrl: options.rpcUrl,
    deploymentsDir: options.deploymentsDir,
    bootstrap: options.bootstrap,
    localNetwork: options.localNetwork,
  });
  try {
    const unreached = checkBootstrap(view.host, options.bootstrap);
    const progress = createProgress(process.stderr, { quiet: options.json });
    for (const address of unreached)
      progress.done(`cannot reach bootstrap peer ${address}; going on without it`);
    let lastPeerAt = Date.now();
    view.host.addEventListener("peer:connect", () => {
      lastPeerAt = Date.now();
    });
    const started = Date.now();
    // A live count on a terminal; elsewhere the start and the end lines only.
    const tick = setInterval(() => {
      if (progress.live)
        progress.update(
          `listening for offers: ${view.book.size} from ${view.host.getPeers().length} peer(s), ${formatDuration(Date.now() - started)} of ${formatDuration(maxMs)}`,
        );
    }, 250);
    progress.update(`listening for offers (up to ${formatDuration(maxMs)})`);
    let waitedMs: number;
    try {
      waitedMs = await waitForOffers(view.book, {
        maxMs,
        ...(minOffers === undefined ? {} : { minOffers }),
        // Every provider met (directly or through another peer) gets time to publish to us.
        busyUntil: () => lastPeerAt + PEER_SETTLE_MS,
      });
    } finally {
      clearInterval(tick);
    }
    const peers = view.host.getPeers().length;
    progress.done(`${view.book.size} offer(s) from ${peers} peer(s) reached in ${formatDuration(waitedMs)}`);
    return { entries: view.book.offers(), waitedMs, peers };
  } finally {
    await view.close();
  }
}

function parseWait(text: string | undefined): number {
  if (text === undefined) return DEFAULT_WAIT_MS;
  if (!/^\d+(\.\d{1,3})?$/.test(text))
    throw new UsageError(`--wait takes seconds, e.g. 3 or 0.5, got "${text}"`);
  const ms = Math.round(Number(text) * 1000);
  if (ms > MAX_WAIT_MS) throw new UsageError(`--wait is at most ${MAX_WAIT_MS / 1000} s`);
  return ms;
}

function parseGpuClass(text: string | undefined): string | undefined {
  if (text !== undefined && !GPU_CLASS.test(text))
    throw new UsageError(`--gpu-class must look like nvidia-h100-80gb, got "${text}"`);
  return text;
}

function money(amount: bigint | null): string {
  return amount === null ? "-" : formatGrid(amount).replace(/ GRID$/, "");
}

function noOffersText(offers: number, gpuClass: string | undefined, peers: number): string {
  return offers === 0
    ? `No offers yet: ${peers} peer(s) reached, but no active provider published one while we listened (try a longer --wait).`
    : `None of the ${offers} live offer(s) has ${gpuClass ?? "GPUs"}.`;
}

const bigMax = (a: bigint, b: bigint) => (a > b ? a : b);

/**
 * What an endpoint on this provider bills besides the time rates (DESIGN §12), in one line: the
 * per-1,000 prices, busy time per busy period, warm minimum replicas, and nothing for cold starts
 * or idle replicas.
 */
function endpointTerms(endpoints: CapacityOffer["endpoints"], granularity: Granularity): string {
  if (endpoints === undefined) return "not served by this provider";
  const per1k = endpoints.rates.map((r) => `${formatGrid(r.price)} per 1k ${r.meter}`);
  return [
    ...(per1k.length === 0 ? ["no per-request or per-token price"] : per1k),
    `busy time billed per busy period ${formatGranularity(granularity)}`,
    "--min-replicas warm replicas as allocated time",
    "cold starts and idle replicas not billed",
  ].join("; ");
}
